/* midge.h compiles as strict C11 (-Wall -Wextra -Werror -pedantic). */
#include <midge.h>
#include <midge.h> /* include guard */

int midge_header_c_check(void);
int midge_header_c_check(void) {
    midge_result r = MIDGE_RESULT_OK;
    midge_connect_cb cb = 0;
    (void)cb;
    return (int)r + MIDGE_VERSION_NUMBER - MIDGE_VERSION_NUMBER;
}

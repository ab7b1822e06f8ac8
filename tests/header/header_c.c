/* midge.h compiles as strict C11 (-Wall -Wextra -Werror -pedantic), and its fixed widths
 * hold: midge_result is an int32_t (never a C enum, whose size is the compiler's choice). */
#include <midge.h>
#include <midge.h> /* include guard */

_Static_assert(sizeof(midge_result) == 4, "midge_result is an int32_t");
_Static_assert((midge_result)-1 < 0, "midge_result is signed");
_Static_assert(MIDGE_RESULT_OK == 0, "0 is success");

int midge_header_c_check(void);
int midge_header_c_check(void) {
    midge_result r = MIDGE_RESULT_OK;
    midge_connect_cb cb = 0;
    midge_ack_cb ack = 0;
    /* Every _free takes the address of the caller's variable. */
    void (*free_message)(midge_message **) = midge_message_free;
    void (*free_client)(midge_client **) = midge_client_free;
    midge_property p = {0, 0, 0, 0, 0, 0};
    (void)cb;
    (void)ack;
    (void)free_message;
    (void)free_client;
    (void)p;
    return (int)r + MIDGE_VERSION_NUMBER - MIDGE_VERSION_NUMBER;
}

# cmake -DSOURCE=... -DBINARY=... -DPREFIX=... -DGENERATOR=... -DC_COMPILER=... -DCONFIG=...
#       -P RunFindPackageConsumer.cmake
# Configures, builds and runs tests/consumer/find_package against midge installed in PREFIX.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}): ${ARGN}")
  endif()
endfunction()

if(NOT CONFIG)
  set(CONFIG Release)
endif()
file(REMOVE_RECURSE "${BINARY}")
run(configure "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${PREFIX}" "-DCMAKE_C_COMPILER=${C_COMPILER}"
    "-DCMAKE_BUILD_TYPE=${CONFIG}" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
run(build "${CMAKE_COMMAND}" --build "${BINARY}" --config "${CONFIG}")
foreach(exe consumer consumer_static)
  set(path "${BINARY}/${exe}")
  if(NOT EXISTS "${path}")
    set(path "${BINARY}/${CONFIG}/${exe}")
  endif()
  run("running ${exe}" "${path}")
endforeach()

# tests/bench/waitgen: the load generator of tests/bench/run's --wait-row
# (hiredis async on libevent). A bench tool: built with or without the tests
# (tests/bench/run builds it in build/release with RAFTKV_TESTS=OFF), never
# installed. The binary goes to <build>/tests/bench/waitgen.
add_executable(waitgen ${CMAKE_SOURCE_DIR}/tests/bench/waitgen.c)
target_link_libraries(waitgen PRIVATE PkgConfig::HIREDIS PkgConfig::LIBEVENT)
set_target_properties(waitgen PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bench)

# tests/bench/zipfgen: the Zipfian cache-aside load of tests/bench/eviction
# from C (hiredis async on libevent), so its throughput ratio measures the
# servers rather than a Python client. Built and placed as waitgen.
add_executable(zipfgen ${CMAKE_SOURCE_DIR}/tests/bench/zipfgen.c)
target_link_libraries(zipfgen PRIVATE PkgConfig::HIREDIS PkgConfig::LIBEVENT m)
set_target_properties(zipfgen PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bench)

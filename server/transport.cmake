# The outgoing peer transport (server/transport.h) as a static library, so
# the server and tests/cluster link the same object. Included by whoever
# needs it; defined once.
if(NOT TARGET raftkv_transport)
  add_library(raftkv_transport STATIC ${CMAKE_SOURCE_DIR}/server/transport.c)
  target_include_directories(raftkv_transport PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(raftkv_transport PUBLIC resp PkgConfig::LIBEVENT PkgConfig::HIREDIS)
endif()

# The outgoing peer transport (server/transport.h) and the peer handshake
# it and the server share (server/peerauth.h, HMAC-SHA256 from OpenSSL's
# libcrypto) as one static library, so the server and tests/cluster link
# the same objects. Included by whoever needs it; defined once.
if(NOT TARGET raftkv_transport)
  pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
  add_library(raftkv_transport STATIC ${CMAKE_SOURCE_DIR}/server/transport.c
                                      ${CMAKE_SOURCE_DIR}/server/peerauth.c)
  target_include_directories(raftkv_transport PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(raftkv_transport PUBLIC resp PkgConfig::LIBEVENT PkgConfig::HIREDIS
                        PkgConfig::LIBCRYPTO)
endif()

# The outgoing peer transport (server/transport.h) on its connections
# (server/peerconn.h, server/tlsio.h), and the peer handshake
# it and the server share (server/peerauth.h, HMAC-SHA256 from OpenSSL's
# libcrypto) as one static library, so the server and tests/cluster link
# the same objects. Included by whoever needs it; defined once.
if(NOT TARGET raftkv_transport)
  pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
  pkg_check_modules(LIBSSL REQUIRED IMPORTED_TARGET libssl)
  add_library(raftkv_transport STATIC ${CMAKE_SOURCE_DIR}/server/transport.c
                                      ${CMAKE_SOURCE_DIR}/server/peerconn.c
                                      ${CMAKE_SOURCE_DIR}/server/tlsio.c
                                      ${CMAKE_SOURCE_DIR}/server/peerauth.c)
  target_include_directories(raftkv_transport PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(raftkv_transport PUBLIC resp PkgConfig::LIBEVENT PkgConfig::HIREDIS
                        PkgConfig::LIBSSL PkgConfig::LIBCRYPTO)
endif()

# The Debian package (CPack's DEB generator): from a Release build directory,
#   cpack -G DEB        (or: make package from the top of the tree)
# gives raftkv-server_<version>_<arch>.deb with the binary, the default config
# /etc/raftkv/raftkv.conf, the systemd unit, logrotate's config and the
# maintainer scripts of packaging/debian/ (the raftkv user, /var/lib/raftkv,
# /var/log/raftkv). tests/pkg/test_deb.py builds and checks it.
set(pkg ${CMAKE_SOURCE_DIR}/packaging)

file(STRINGS ${CMAKE_SOURCE_DIR}/server/server.h version_line
     REGEX "^#define RAFTKV_VERSION \"[^\"]+\"")
string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" RAFTKV_PACKAGE_VERSION "${version_line}")

install(TARGETS raftkv-server RUNTIME DESTINATION bin)
install(FILES ${pkg}/raftkv.conf DESTINATION /etc/raftkv)
install(FILES ${pkg}/raftkv-server.service DESTINATION /lib/systemd/system)
install(FILES ${pkg}/raftkv-server.logrotate DESTINATION /etc/logrotate.d
        RENAME raftkv-server)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/raftkv-server)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME raftkv-server)
set(CPACK_PACKAGE_VERSION ${RAFTKV_PACKAGE_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Redis-protocol key-value store replicated by Raft")
# The synopsis is the summary above; this is the extended description.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "RaftKV speaks the Redis protocol (RESP2 and RESP3) to any Redis client and\n\
replicates every write through a Raft log to a majority of its nodes before\n\
acknowledging it; data is kept on disk in LMDB. This package installs the\n\
server, a default configuration in /etc/raftkv/raftkv.conf and a systemd\n\
service, raftkv-server, running as the raftkv user with its data in\n\
/var/lib/raftkv.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "RaftKV developers <raftkv@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The shared libraries' packages (libevent, hiredis, lmdb, libcrypto, libc) come from
# dpkg-shlibdeps when dpkg-dev is installed; otherwise Debian 12's names.
find_program(DPKG_SHLIBDEPS dpkg-shlibdeps)
if(DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "adduser, libc6, libevent-2.1-7, libhiredis0.14, liblmdb0, libssl3")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "logrotate")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-tools")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${pkg}/debian/conffiles ${pkg}/debian/postinst ${pkg}/debian/prerm ${pkg}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

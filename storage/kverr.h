/* kverr.h -- error codes of storage/. */
#ifndef RAFTKV_KVERR_H
#define RAFTKV_KVERR_H

#define KV_ERRORS(X)                                                                               \
    X(KV_OK, 0, "ok")                                                                              \
    X(KV_ENOMEM, -1, "out of memory")                                                              \
    X(KV_EIO, -2, "storage I/O error")                                                             \
    X(KV_ENOTFOUND, -3, "not found")                                                               \
    X(KV_EINVAL, -4, "invalid argument")                                                           \
    X(KV_EFULL, -5, "storage map full")                                                            \
    X(KV_ECORRUPT, -6, "corrupt data")                                                             \
    X(KV_ENEWER, -7, "a log entry needs a newer version of raftkv-server (upgrade this node)")

enum {
#define KV_ENUM(name, val, msg) name = val,
    KV_ERRORS(KV_ENUM)
#undef KV_ENUM
};

const char *kv_strerror(int code);

#endif

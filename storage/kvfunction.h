/* kvfunction.h -- FUNCTION and FCALL (kvx_function.c): the decoders of
 * untrusted bytes that the function commands use, exposed for their
 * fuzz target (tests/storage/fuzz_kvfunction.c).
 *
 * A library is Redis 7.0's: a code string whose first line is the
 * metadata "#!<engine> name=<library>", the rest a Lua chunk calling
 * redis.register_function. FUNCTION DUMP's payload is Redis's: for each
 * library the opcode RDB_OPCODE_FUNCTION2 (245) and the code as an RDB
 * string, then the RDB version (2 bytes LE) and the CRC-64 (8 bytes LE).
 */
#ifndef RAFTKV_KVFUNCTION_H
#define RAFTKV_KVFUNCTION_H

#include <stddef.h>

/* RDB opcodes of a function library (Redis's rdb.h). */
#define KVFN_RDB_OPCODE_FUNCTION 246
#define KVFN_RDB_OPCODE_FUNCTION2 245

/* Parses the metadata line of code[0..len) as Redis's
 * functionExtractLibMetaData, then checks the library name and the
 * engine as functionsCreateWithLibraryCtx does. 0 with *name / *namelen
 * (pointing into code, or into the static buffer of a quoted name: valid
 * until the next call) and *body (offset of the newline that ends the
 * metadata: the chunk starts there so line numbers stay); or -1 with
 * Redis's error message (without "ERR ") in err (errlen bytes, NUL
 * terminated). */
int kvfn_parse_meta(const char *code, size_t len, const char **name, size_t *namelen, size_t *body,
                    char *err, size_t errlen);

/* A library name or function name as Redis 7.0 accepts it: letters,
 * digits and '_', at least one. */
int kvfn_valid_name(const char *s, size_t n);

/* Walks a FUNCTION RESTORE payload as Redis's functionRestoreCommand:
 * the footer is checked first (rdbc_verify_dump), then each library's
 * code is given to cb (pointers valid during the call only). cb returns
 * 0 to go on, else the walk stops and returns that value. Returns 0, or
 * -1 with Redis's message (without "ERR ") in err. Never reads outside
 * p[0..n). */
int kvfn_payload_walk(const void *p, size_t n, int (*cb)(void *arg, const char *code, size_t len),
                      void *arg, char *err, size_t errlen);

#endif

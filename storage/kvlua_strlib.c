/* kvlua_strlib.c -- string.find, match, gmatch, gsub and rep for the
 * scripting VM, with Lua 5.1's results and errors, and a cost.
 *
 * Lua's own versions run in C, where the instruction hook never fires:
 * string.find(string.rep('a', 3000), '.-.-.-b') backtracks for hours, and
 * string.rep('', 1e15) loops 1e15 times without allocating. A script runs
 * at apply on every node, and again at every restart that replays its
 * entry, so one such EVAL would stop the whole cluster for good. These
 * versions charge each step of the matcher (a call of the matching
 * function, one character tried by a repetition) and each piece of a
 * repetition to the script's instruction budget (kvlua_charge), so a run
 * that goes on too long fails with the budget's error at the same step on
 * every node.
 *
 * Everything else follows Lua 5.1 (lstrlib.c), which redis-server 7.0
 * embeds: the pattern ends at its first NUL, gmatch treats '^' as an
 * ordinary character, the character classes are the C locale's. One
 * difference: a pattern nesting more than MAX_DEPTH matching calls (a
 * long chain of optional items, where Lua 5.1 would recurse until the C
 * stack overflowed) fails with "pattern too complex". */
#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <string.h>

#include "storage/kvlua_lib.h"

#define ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAX_CAPTURES 32
#define MAX_DEPTH 2000
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

typedef struct matcher {
    const char *src, *src_end; /* the subject */
    lua_State *L;
    int level; /* captures open or closed so far */
    int depth; /* nested match() calls */
    unsigned steps;
    struct {
        const char *init;
        ptrdiff_t len;
    } cap[MAX_CAPTURES];
} matcher;

/* Steps are charged in batches: kvlua_charge() is a function call. */
#define STEP_BATCH 256

static void step(matcher *m)
{
    if (++m->steps == STEP_BATCH) {
        m->steps = 0;
        kvlua_charge(m->L, STEP_BATCH);
    }
}

static int uc(char c)
{
    return (unsigned char)c;
}

/* The character at s, or NUL past the end (Lua strings end with one). */
static int at(const matcher *m, const char *s)
{
    return s < m->src_end ? uc(*s) : 0;
}

static int class_matches(int c, int cl)
{
    int res;
    switch (tolower(cl)) {
    case 'a':
        res = isalpha(c);
        break;
    case 'c':
        res = iscntrl(c);
        break;
    case 'd':
        res = isdigit(c);
        break;
    case 'l':
        res = islower(c);
        break;
    case 'p':
        res = ispunct(c);
        break;
    case 's':
        res = isspace(c);
        break;
    case 'u':
        res = isupper(c);
        break;
    case 'w':
        res = isalnum(c);
        break;
    case 'x':
        res = isxdigit(c);
        break;
    case 'z':
        res = (c == 0);
        break;
    default:
        return cl == c;
    }
    if (isupper(cl)) res = !res;
    return res;
}

/* [set]: p at '[', last at its closing ']'. */
static int set_matches(int c, const char *p, const char *last)
{
    int yes = 1;
    if (p[1] == '^') {
        yes = 0;
        p++;
    }
    while (++p < last) {
        if (*p == ESC) {
            p++;
            if (class_matches(c, uc(*p))) return yes;
        } else if (p[1] == '-' && p + 2 < last) {
            p += 2;
            if (uc(p[-2]) <= c && c <= uc(*p)) return yes;
        } else if (uc(*p) == c) {
            return yes;
        }
    }
    return !yes;
}

/* Where the single-character class at p ends. */
static const char *item_end(matcher *m, const char *p)
{
    switch (*p++) {
    case ESC:
        if (*p == '\0') luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do { /* the first character may be ']' */
            if (*p == '\0') luaL_error(m->L, "malformed pattern (missing ']')");
            if (*(p++) == ESC && *p != '\0') p++;
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int item_matches(int c, const char *p, const char *end)
{
    switch (*p) {
    case '.':
        return 1;
    case ESC:
        return class_matches(c, uc(p[1]));
    case '[':
        return set_matches(c, p, end - 1);
    default:
        return uc(*p) == c;
    }
}

static const char *match(matcher *m, const char *s, const char *p);

static const char *match_balance(matcher *m, const char *s, const char *p)
{
    if (p[0] == '\0' || p[1] == '\0') luaL_error(m->L, "unbalanced pattern");
    if (at(m, s) != uc(p[0]) || s >= m->src_end) return NULL;
    int open = uc(p[0]), close = uc(p[1]), depth = 1;
    while (++s < m->src_end) {
        step(m);
        if (uc(*s) == close) {
            if (--depth == 0) return s + 1;
        } else if (uc(*s) == open) {
            depth++;
        }
    }
    return NULL;
}

/* item* and item+ (greedy): the longest run first, then shorter. */
static const char *expand_max(matcher *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (s + n < m->src_end && item_matches(uc(s[n]), p, ep)) {
        step(m);
        n++;
    }
    for (; n >= 0; n--) {
        const char *r = match(m, s + n, ep + 1);
        if (r) return r;
    }
    return NULL;
}

/* item- (lazy): the shortest run first, then longer. */
static const char *expand_min(matcher *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *r = match(m, s, ep + 1);
        if (r) return r;
        if (s < m->src_end && item_matches(uc(*s), p, ep))
            s++;
        else
            return NULL;
    }
}

static const char *open_capture(matcher *m, const char *s, const char *p, ptrdiff_t what)
{
    if (m->level >= MAX_CAPTURES) luaL_error(m->L, "too many captures");
    int l = m->level++;
    m->cap[l].init = s;
    m->cap[l].len = what;
    const char *r = match(m, s, p);
    if (!r) m->level--;
    return r;
}

static const char *close_capture(matcher *m, const char *s, const char *p)
{
    int l = m->level - 1;
    while (l >= 0 && m->cap[l].len != CAP_UNFINISHED)
        l--;
    if (l < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[l].len = s - m->cap[l].init;
    const char *r = match(m, s, p);
    if (!r) m->cap[l].len = CAP_UNFINISHED;
    return r;
}

static int capture_index(matcher *m, int c)
{
    int l = c - '1';
    if (l < 0 || l >= m->level || m->cap[l].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index");
    return l;
}

static const char *match_backref(matcher *m, const char *s, int c)
{
    int l = capture_index(m, c);
    size_t len = (size_t)m->cap[l].len;
    if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[l].init, s, len) == 0) return s + len;
    return NULL;
}

/* The end of the match of pattern p at s, or NULL. Items that need no
 * backtracking loop here; the others recurse. */
static const char *match_at(matcher *m, const char *s, const char *p)
{
    for (;;) {
        step(m);
        switch (*p) {
        case '(':
            if (p[1] == ')') return open_capture(m, s, p + 2, CAP_POSITION);
            return open_capture(m, s, p + 1, CAP_UNFINISHED);
        case ')':
            return close_capture(m, s, p + 1);
        case '\0':
            return s;
        case '$':
            if (p[1] == '\0') return s == m->src_end ? s : NULL;
            break;
        case ESC:
            if (p[1] == 'b') {
                s = match_balance(m, s, p + 2);
                if (!s) return NULL;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                p += 2;
                if (*p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
                const char *ep = item_end(m, p);
                int prev = s == m->src ? 0 : uc(s[-1]);
                if (set_matches(prev, p, ep - 1) || !set_matches(at(m, s), p, ep - 1)) return NULL;
                p = ep;
                continue;
            }
            if (isdigit(uc(p[1]))) {
                s = match_backref(m, s, uc(p[1]));
                if (!s) return NULL;
                p += 2;
                continue;
            }
            break;
        default:
            break;
        }
        /* A single-character item, maybe with a repetition. */
        const char *ep = item_end(m, p);
        int ok = s < m->src_end && item_matches(uc(*s), p, ep);
        switch (*ep) {
        case '?': {
            const char *r;
            if (ok && (r = match(m, s + 1, ep + 1)) != NULL) return r;
            p = ep + 1;
            continue;
        }
        case '*':
            return expand_max(m, s, p, ep);
        case '+':
            return ok ? expand_max(m, s + 1, p, ep) : NULL;
        case '-':
            return expand_min(m, s, p, ep);
        default:
            if (!ok) return NULL;
            s++;
            p = ep;
            continue;
        }
    }
}

static const char *match(matcher *m, const char *s, const char *p)
{
    if (++m->depth > MAX_DEPTH) luaL_error(m->L, "pattern too complex");
    const char *r = match_at(m, s, p);
    m->depth--;
    return r;
}

static void matcher_init(matcher *m, lua_State *L, const char *s, size_t len)
{
    m->L = L;
    m->src = s;
    m->src_end = s + len;
    m->level = 0;
    m->depth = 0;
    m->steps = 0;
}

/* Capture i, or the whole match (s..e) when there are none. */
static void push_capture(matcher *m, int i, const char *s, const char *e)
{
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index");
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    ptrdiff_t l = m->cap[i].len;
    if (l == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
    if (l == CAP_POSITION)
        lua_pushinteger(m->L, m->cap[i].init - m->src + 1);
    else
        lua_pushlstring(m->L, m->cap[i].init, (size_t)l);
}

static int push_captures(matcher *m, const char *s, const char *e)
{
    int n = (m->level == 0 && s) ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (int i = 0; i < n; i++)
        push_capture(m, i, s, e);
    return n;
}

/* A 1-based position, negative from the end, as a 0-based offset. */
static ptrdiff_t start_offset(lua_Integer pos, size_t len)
{
    if (pos < 0) pos += (lua_Integer)len + 1;
    if (pos < 1) return 0;
    if ((size_t)(pos - 1) > len) return (ptrdiff_t)len;
    return (ptrdiff_t)(pos - 1);
}

static const char *plain_find(lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
    if (lp == 0) return s;
    if (lp > ls) return NULL;
    kvlua_charge(L, (uint64_t)(ls - lp + 1) / 16 + 1); /* memchr and memcmp are fast */
    const char *end = s + (ls - lp) + 1;
    while (s < end) {
        const char *c = memchr(s, p[0], (size_t)(end - s));
        if (!c) return NULL;
        if (memcmp(c + 1, p + 1, lp - 1) == 0) return c;
        s = c + 1;
    }
    return NULL;
}

static int find_or_match(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    ptrdiff_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    if (find && (lua_toboolean(L, 4) || strpbrk(p, SPECIALS) == NULL)) {
        const char *hit = plain_find(L, s + init, ls - (size_t)init, p, lp);
        if (!hit) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushinteger(L, hit - s + 1);
        lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
        return 2;
    }
    matcher m;
    matcher_init(&m, L, s, ls);
    int anchor = *p == '^';
    if (anchor) p++;
    const char *s1 = s + init;
    do {
        m.level = 0;
        m.depth = 0;
        const char *e = match(&m, s1, p);
        if (e) {
            if (!find) return push_captures(&m, s1, e);
            lua_pushinteger(L, s1 - s + 1);
            lua_pushinteger(L, e - s);
            return push_captures(&m, NULL, NULL) + 2;
        }
    } while (s1++ < m.src_end && !anchor);
    lua_pushnil(L);
    return 1;
}

static int str_find(lua_State *L)
{
    return find_or_match(L, 1);
}

static int str_match(lua_State *L)
{
    return find_or_match(L, 0);
}

static int gmatch_next(lua_State *L)
{
    size_t ls;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    matcher m;
    matcher_init(&m, L, s, ls);
    for (const char *src = s + lua_tointeger(L, lua_upvalueindex(3)); src <= m.src_end; src++) {
        m.level = 0;
        m.depth = 0;
        const char *e = match(&m, src, p);
        if (e) {
            lua_Integer next = e - s;
            if (e == src) next++; /* an empty match: move on by one */
            lua_pushinteger(L, next);
            lua_replace(L, lua_upvalueindex(3));
            return push_captures(&m, src, e);
        }
    }
    return 0;
}

static int str_gmatch(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* gsub's replacement string: %0 the whole match, %1-%9 captures, %x x. */
static void add_template(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *t = lua_tolstring(m->L, 3, &l);
    for (size_t i = 0; i < l; i++) {
        if (t[i] != ESC) {
            luaL_addchar(b, t[i]);
            continue;
        }
        i++;
        int c = i < l ? uc(t[i]) : 0; /* a final '%' adds the string's NUL, as in Lua */
        if (!isdigit(c)) {
            luaL_addchar(b, (char)c);
        } else if (c == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else {
            push_capture(m, c - '1', s, e);
            luaL_addvalue(b);
        }
    }
}

static void add_replacement(matcher *m, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = m->L;
    switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        add_template(m, b, s, e);
        return;
    case LUA_TFUNCTION: {
        lua_pushvalue(L, 3);
        int n = push_captures(m, s, e);
        lua_call(L, n, 1);
        break;
    }
    default: /* a table */
        push_capture(m, 0, s, e);
        lua_gettable(L, 3);
        break;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s)); /* keep the original */
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
}

static int str_gsub(lua_State *L)
{
    size_t ls;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checkstring(L, 2);
    int tr = lua_type(L, 3);
    int max = luaL_optint(L, 4, (int)ls + 1);
    int anchor = *p == '^';
    if (anchor) p++;
    luaL_argcheck(L,
                  tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                  3, "string/function/table expected");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    matcher m;
    matcher_init(&m, L, src, ls);
    int n = 0;
    while (n < max) {
        m.level = 0;
        m.depth = 0;
        const char *e = match(&m, src, p);
        if (e) {
            n++;
            add_replacement(&m, &b, src, e);
        }
        if (e && e > src)
            src = e;
        else if (src < m.src_end)
            luaL_addchar(&b, *src++);
        else
            break;
        if (anchor) break;
    }
    luaL_addlstring(&b, src, (size_t)(m.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

/* string.rep: an empty string or a count below 1 costs nothing and gives
 * "", as in Lua (whose loop would still count to n); otherwise each copy
 * is charged, and the script's memory limit bounds the total. */
static int str_rep(lua_State *L)
{
    size_t l;
    const char *s = luaL_checklstring(L, 1, &l);
    int n = (int)luaL_checkinteger(L, 2); /* luaL_checkint, as Lua 5.1 */
    if (l == 0 || n <= 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 0; i < n; i++) {
        if ((i & 255) == 0) kvlua_charge(L, 256 * ((uint64_t)l / 64 + 1));
        luaL_addlstring(&b, s, l);
    }
    luaL_pushresult(&b);
    return 1;
}

void kvlua_strlib_install(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"find", str_find}, {"match", str_match}, {"gmatch", str_gmatch},
        {"gsub", str_gsub}, {"rep", str_rep},     {NULL, NULL},
    };
    lua_getglobal(L, LUA_STRLIBNAME);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pop(L, 1);
}

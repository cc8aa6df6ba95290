/*
 * Accept-Encoding negotiation (RFC 9110 12.5.3). One pass over the value, no allocation: each
 * element's q is recorded per known coding, then the allowed coding with the highest q wins.
 */
#include <stddef.h>
#include <string.h>
#include "compress/compress.h"

/* q-values are kept in thousandths: 0..1000. */
#define Q_MAX 1000
#define Q_UNSET (-1)

/* Identity is acceptable unless refused; when the header neither names it nor has "*", it
 * ranks below every coding the client did name with q > 0, so "gzip;q=0.5" still gets gzip. */
#define Q_IDENTITY_IMPLICIT 1

/* Slots for what the header can name: the codings, then "*". */
enum { SLOT_STAR = HP_ENCODING__COUNT, SLOT__COUNT };

/* Server preference on equal q, best first. */
static const hp_encoding_t preference[] = {HP_ENCODING_BR, HP_ENCODING_ZSTD, HP_ENCODING_GZIP,
                                           HP_ENCODING_IDENTITY};

typedef struct {
    const char *p, *end;
} cursor_t;

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
 *         "~" / DIGIT / ALPHA */
static int is_tchar(unsigned char c)
{
    static const char symbols[] = "!#$%&'*+-.^_`|~";
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return memchr(symbols, c, sizeof(symbols) - 1) != NULL;
}

static void skip_ows(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Reads a token (1*tchar); returns its length, 0 when there is none. */
static size_t read_token(cursor_t *c, const char **start)
{
    *start = c->p;
    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    return (size_t)(c->p - *start);
}

/* Compares a token with a lowercase literal, ignoring ASCII case. */
static int token_is(const char *tok, size_t len, const char *lit)
{
    size_t i = 0;
    for (; i < len && lit[i] != '\0'; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lit[i])
            return 0;
    }
    return i == len && lit[i] == '\0';
}

/* The slot a coding name fills, or -1 for a coding we do not produce. */
static int slot_of(const char *tok, size_t len)
{
    if (token_is(tok, len, "gzip") || token_is(tok, len, "x-gzip"))
        return HP_ENCODING_GZIP;
    if (token_is(tok, len, "br"))
        return HP_ENCODING_BR;
    if (token_is(tok, len, "zstd"))
        return HP_ENCODING_ZSTD;
    if (token_is(tok, len, "identity"))
        return HP_ENCODING_IDENTITY;
    if (len == 1 && tok[0] == '*')
        return SLOT_STAR;
    return -1;
}

/*
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 *
 * Parses a qvalue that must end at the token's end; returns it in thousandths, or -1.
 */
static int parse_qvalue(const char *s, size_t len)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int whole = s[0] - '0', frac = 0;
    if (len > 1) {
        if (s[1] != '.' || len > 5)
            return -1;
        int scale = 100;
        for (size_t i = 2; i < len; i++, scale /= 10) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            frac += (s[i] - '0') * scale;
        }
    }
    if (whole == 1 && frac != 0)
        return -1;
    return whole * Q_MAX + frac;
}

/*
 * element    = coding *( OWS ";" OWS parameter )
 * coding     = token                      ; a content-coding, "identity" or "*"
 * parameter  = token [ OWS "=" OWS token ]  ; "q" (any case) takes a qvalue
 *
 * RFC 9110 allows only "q" as a parameter and no space around "="; we accept both, and skip
 * parameters we do not know, since being lenient there cannot make a wrong choice. Returns the
 * element's q in thousandths (1000 without a q), or -1 when the element is malformed. On
 * return the cursor is at the end of the element: the input's end or a ','.
 */
static int parse_element(cursor_t *c, int *slot)
{
    const char *tok;
    size_t tok_len = read_token(c, &tok);
    int q = Q_MAX, ok = tok_len != 0;

    *slot = ok ? slot_of(tok, tok_len) : -1;
    skip_ows(c);
    while (ok && c->p < c->end && *c->p == ';') {
        c->p++;
        skip_ows(c);
        const char *name, *value = NULL;
        size_t name_len = read_token(c, &name), value_len = 0;
        skip_ows(c);
        if (name_len == 0) {
            ok = 0;
            break;
        }
        if (c->p < c->end && *c->p == '=') {
            c->p++;
            skip_ows(c);
            value_len = read_token(c, &value);
            skip_ows(c);
            if (value_len == 0)
                ok = 0;
        }
        if (ok && token_is(name, name_len, "q")) {
            q = value_len == 0 ? -1 : parse_qvalue(value, value_len);
            ok = q >= 0;
        }
    }
    if (ok && c->p < c->end && *c->p != ',')
        ok = 0;
    while (c->p < c->end && *c->p != ',')
        c->p++;
    return ok ? q : -1;
}

hp_encoding_t hp_compress_negotiate(const char *accept_encoding, size_t len, unsigned allowed_mask)
{
    if (accept_encoding == NULL || len == 0)
        return HP_ENCODING_IDENTITY;

    /* The first well-formed element naming a coding decides its q; a repeat is ignored. */
    int q[SLOT__COUNT];
    for (int i = 0; i < SLOT__COUNT; i++)
        q[i] = Q_UNSET;

    cursor_t c = {accept_encoding, accept_encoding + len};
    while (c.p < c.end) {
        skip_ows(&c);
        int slot, element_q = parse_element(&c, &slot);
        if (element_q >= 0 && slot >= 0 && q[slot] == Q_UNSET)
            q[slot] = element_q;
        if (c.p < c.end)
            c.p++; /* the ',' */
    }

    /* "*" stands for every coding the header does not name, identity included. */
    for (int i = 0; i < HP_ENCODING__COUNT; i++) {
        if (q[i] == Q_UNSET)
            q[i] = q[SLOT_STAR];
    }
    if (q[HP_ENCODING_IDENTITY] == Q_UNSET)
        q[HP_ENCODING_IDENTITY] = Q_IDENTITY_IMPLICIT;

    hp_encoding_t best = HP_ENCODING_NOT_ACCEPTABLE;
    int best_q = 0;
    for (size_t i = 0; i < sizeof(preference) / sizeof(preference[0]); i++) {
        hp_encoding_t enc = preference[i];
        int is_available = enc == HP_ENCODING_IDENTITY || (allowed_mask & HP_ENCODING_BIT(enc));
        /* Strictly greater: on equal q the earlier, preferred coding stays. */
        if (is_available && q[enc] > best_q) {
            best = enc;
            best_q = q[enc];
        }
    }
    return best;
}

/*
 * Kubernetes name and label syntax, with apimachinery's messages.
 */
#include <string.h>

#include "api/internal.h"

#define DNS1123_LABEL_MSG                                                      \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric "      \
    "characters or '-', and must start and end with an alphanumeric "          \
    "character (e.g. 'my-name',  or '123-abc', regex used for validation "     \
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1123_SUBDOMAIN_MSG                                                  \
    "a lowercase RFC 1123 subdomain must consist of lower case "               \
    "alphanumeric characters, '-' or '.', and must start and end with an "     \
    "alphanumeric character (e.g. 'example.com', regex used for validation "   \
    "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define QUALIFIED_NAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QUALIFIED_NAME_MSG                                                     \
    "must consist of alphanumeric characters, '-', '_' or '.', and must "      \
    "start and end with an alphanumeric character"
#define LABEL_VALUE_MSG                                                        \
    "a valid label must be an empty string or consist of alphanumeric "        \
    "characters, '-', '_' or '.', and must start and end with an "             \
    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "    \
    "regex used for validation is '(" QUALIFIED_NAME_FMT ")?')"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool label_ok(const char *s, size_t len)
{
    if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

const char *api_check_dns1123_label(const char *s)
{
    size_t len = strlen(s);

    if (len > 63)
        return "must be no more than 63 characters";
    return label_ok(s, len) ? NULL : DNS1123_LABEL_MSG;
}

static bool subdomain_ok(const char *s, size_t len)
{
    size_t start = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i <= len; i++)
        if (i == len || s[i] == '.') {
            if (!label_ok(s + start, i - start))
                return false;
            start = i + 1;
        }
    return true;
}

const char *api_check_dns1123_subdomain(const char *s)
{
    size_t len = strlen(s);

    if (len > 253)
        return "must be no more than 253 characters";
    return subdomain_ok(s, len) ? NULL : DNS1123_SUBDOMAIN_MSG;
}

static bool qualified_part_ok(const char *s, size_t len)
{
    if (len == 0 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

const char *api_check_qualified_name(const char *s)
{
    const char *slash = strchr(s, '/');
    const char *name = s;

    if (slash) {
        size_t plen = (size_t)(slash - s);
        if (strchr(slash + 1, '/'))
            return "a qualified name " QUALIFIED_NAME_MSG
                   " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                   "used for validation is '" QUALIFIED_NAME_FMT
                   "') with an optional DNS subdomain prefix and '/' (e.g. "
                   "'example.com/MyName')";
        if (plen == 0)
            return "prefix part must be non-empty";
        if (plen > 253)
            return "prefix part must be no more than 253 characters";
        if (!subdomain_ok(s, plen))
            return "prefix part " DNS1123_SUBDOMAIN_MSG;
        name = slash + 1;
    }
    if (!*name)
        return "name part must be non-empty";
    if (strlen(name) > 63)
        return "name part must be no more than 63 characters";
    if (!qualified_part_ok(name, strlen(name)))
        return "name part " QUALIFIED_NAME_MSG
               " (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
               "for validation is '" QUALIFIED_NAME_FMT "')";
    return NULL;
}

const char *api_check_label_value(const char *s)
{
    size_t len = strlen(s);

    if (len > 63)
        return "must be no more than 63 characters";
    if (len && !qualified_part_ok(s, len))
        return LABEL_VALUE_MSG;
    return NULL;
}

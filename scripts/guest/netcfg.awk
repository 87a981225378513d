# Reading of cloud-init network-config (see scripts/guest/init): a YAML
# subset, block style with 2-space style indentation, "- " lists, scalars
# plain or quoted, flow lists "[a, b]" of scalars.  No anchors, no
# multi-line scalars, no flow maps.  Prints one line per interface:
#   MAC|MATCHNAME|SETNAME|ADDR/PLEN,...|GATEWAY|NAMESERVER,...
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function unq(s) {
    s = trim(s)
    if (s ~ /^".*"$/ || s ~ /^'.*'$/) s = substr(s, 2, length(s) - 2)
    return s
}
# A scalar or a flow list, as "a,b".
function vals(s,   n, i, a, out, v) {
    s = trim(s)
    if (s !~ /^\[.*\]$/) return unq(s)
    s = substr(s, 2, length(s) - 2)
    n = split(s, a, ",")
    out = ""
    for (i = 1; i <= n; i++) {
        v = unq(a[i])
        if (v != "") out = out (out == "" ? "" : ",") v
    }
    return out
}
function add(cur, v) { return v == "" ? cur : (cur == "" ? v : cur "," v) }
function plen(mask,   n, i, a, b, bits) {
    if (mask ~ /^[0-9]+$/) return mask
    split("255 254 252 248 240 224 192 128 0", b, " ")
    n = split(mask, a, ".")
    bits = 0
    for (i = 1; i <= n; i++) {
        if (a[i] == 255) bits += 8
        else if (a[i] == 254) bits += 7
        else if (a[i] == 252) bits += 6
        else if (a[i] == 248) bits += 5
        else if (a[i] == 240) bits += 4
        else if (a[i] == 224) bits += 3
        else if (a[i] == 192) bits += 2
        else if (a[i] == 128) bits += 1
    }
    return bits
}
# The path of keys above the current line, from depth `from`, as "a.b".
function path(from,   i, p) {
    p = ""
    for (i = from; i <= sp; i++) p = p (p == "" ? "" : ".") skey[i]
    return p
}
# A key's value (or a list item under it) for v2 entry `id`.
function v2(id, rel, v) {
    if (!(id in seen)) { seen[id] = 1; order[++nids] = id }
    if (rel == "match.macaddress") mac[id] = tolower(v)
    else if (rel == "match.name") mname[id] = v
    else if (rel == "set-name") sname[id] = v
    else if (rel == "addresses") addrs[id] = add(addrs[id], v)
    else if (rel == "gateway4" || rel == "gateway") gw[id] = v
    else if (rel == "nameservers.addresses") dns[id] = add(dns[id], v)
    else if (rel == "routes.to") rto[id] = v
    else if (rel == "routes.via") rvia[id] = v
    if ((rel == "routes.to" || rel == "routes.via") &&
        (rto[id] == "default" || rto[id] == "0.0.0.0/0") && rvia[id] != "")
        gw[id] = rvia[id]
}
BEGIN { sp = 0; base = 1; nids = 0; n1 = 0 }
{
    line = $0
    sub(/\r$/, "", line)
    if (line ~ /^[ \t]*(#.*)?$/ || line ~ /^---/) next
    sub(/[ \t]+#.*$/, "", line)
    match(line, /^ */)
    ind = RLENGTH
    line = substr(line, ind + 1)
    item = 0
    while (line ~ /^-( |$)/) {
        item = 1
        sub(/^- */, "", line)
        ind += 2
    }
    while (sp > 0 && sind[sp] >= ind) sp--
    if (line ~ /^[A-Za-z0-9_.-]+:( |$)/ || line ~ /^"[^"]*":( |$)/) {
        key = line
        sub(/:( .*)?$/, "", key)
        key = tolower(unq(key))
        val = line
        if (!sub(/^[^:]*:[ ]+/, "", val)) val = ""
        iskey = 1
    } else {
        iskey = 0
        val = line
    }
    # The optional top-level "network:" wrapper.
    if (sp == 0 && iskey && key == "network" && val == "") { base = 2 }
    if (item && iskey) listitem[path(base)] = ++items
    if (sp + 1 == base && iskey && key == "version") version = unq(val)
    p = path(base)
    if (iskey) full = p (p == "" ? "" : ".") key
    else full = p
    # version 2: ethernets.ID.REL
    if (full ~ /^ethernets\./) {
        rest = substr(full, 11)
        id = rest
        sub(/\..*/, "", id)
        rel = substr(rest, length(id) + 2)
        if (rel != "" && val != "") {
            n = split(vals(val), a, ",")
            for (i = 1; i <= n; i++) v2(id, rel, a[i])
        } else if (id != "" && !(id in seen)) v2(id, "", "")
    }
    # version 1: config[] items
    if (full == "config.type") { n1++; t1[n1] = unq(val) }
    else if (full == "config.name") nm1[n1] = unq(val)
    else if (full == "config.mac_address") mac1[n1] = tolower(unq(val))
    else if (full == "config.subnets.address" || full == "config.address") {
        if (t1[n1] == "nameserver") gdns = add(gdns, vals(val))
        else { last1 = unq(val); addr1[n1] = add(addr1[n1], last1 (last1 ~ /\// ? "" : "/32")) }
    }
    else if (full == "config.subnets.netmask" && last1 != "") {
        sub("/32$", "", addr1[n1])
        sub(last1 "$", last1 "/" plen(unq(val)), addr1[n1])
    }
    else if (full == "config.subnets.gateway") gw1[n1] = unq(val)
    else if (full == "config.subnets.dns_nameservers") dns1[n1] = add(dns1[n1], vals(val))
    if (iskey && val == "") { sp++; sind[sp] = ind; skey[sp] = key }
}
END {
    if (version == 2) {
        for (i = 1; i <= nids; i++) {
            id = order[i]
            m = mname[id]
            if (mac[id] == "" && m == "") m = id
            print mac[id] "|" m "|" sname[id] "|" addrs[id] "|" gw[id] "|" dns[id]
        }
    } else if (version == 1) {
        for (i = 1; i <= n1; i++) {
            if (t1[i] != "physical") continue
            print mac1[i] "|" (mac1[i] == "" ? nm1[i] : "") "|" (mac1[i] == "" ? "" : nm1[i]) "|" addr1[i] "|" gw1[i] "|" add(dns1[i], gdns)
        }
    } else {
        print "orch-seed: network-config version '" version "' is not 1 or 2" > "/dev/stderr"
        exit 1
    }
}

#!/usr/bin/env python3
"""gen-man.py: cio's manual pages, generated from the sources so that they never drift.

  section 3  one page per function exported with CIO_EXPORT in include/cio/*.h, from the
             doc block above its prototype ("/** name() - summary", @param: lines, the body,
             "Return:"); a block shared by a group of prototypes (setter and getter, or
             "a() / _b() - ...") gives each function of the group its own page carrying the
             shared text. The page also carries the notes of the header section the function
             sits in, the types its prototype names, the same operation in its other forms
             (try_*, poll_*), and, for the core functions that are also _Generic macros of
             the same name, the handle types the macro accepts (read from the _Generic
             selections, checked against the C++ overloads).
  section 7  one cio-<header>(7) page per public header from its top comment, its types and
             constants, and its functions by section (cio-io(7), cio-poll(7), cio-rt(7)...);
             and the pages written in docs/man/*.md (cio(7), cio-cancellation(7)), where
             "@generated headers|tools" inserts a generated list and "@quote cio/x.h LEAD"
             the paragraph of that header's comments that starts with LEAD.
  section 1  one page per tool from docs/*.md whose first line is "# <name>(1)".

Warnings (written to DIR/warnings.txt and stderr): a CIO_EXPORT prototype without a doc block
(it gets no page), a doc block that breaks the convention (see Site.check_group), a tool in
tools/ without a page, a quote that finds nothing, a page that names a cio function or page
that does not exist. With --check any warning makes the exit status 1.

Usage: gen-man.py [--src DIR] [--version X.Y.Z] [--check] --out DIR
Writes DIR/man1, DIR/man3, DIR/man7 (pages whose source is gone removed, unchanged pages not
rewritten), DIR/warnings.txt and DIR/.stamp. Python 3 standard library only.
"""

import argparse
import os
import re
import sys

# ---------------------------------------------------------------------------------------------
# roff text

NON_ASCII = re.compile(r"[^\x00-\x7f]")


# roff's names for the non-ASCII characters the sources use; any other becomes \[uXXXX]
GLYPHS = {
    "\u2014": "\\(em",
    "\u2013": "\\(en",
    "\u2018": "\\(oq",
    "\u2019": "\\(cq",
    "\u201c": "\\(lq",
    "\u201d": "\\(rq",
    "\u00d7": "\\(mu",
    "\u2192": "\\(->",
    "\u2190": "\\(<-",
    "\u2264": "\\(<=",
    "\u2265": "\\(>=",
    "\u2026": "...",
}


def glyphs(s):
    return NON_ASCII.sub(lambda m: GLYPHS.get(m.group(0), "\\[u%04X]" % ord(m.group(0))), s)


def esc_basic(s):
    """Escape what roff would interpret: backslashes and non-ASCII characters."""
    return glyphs(s.replace("\\", "\\e"))


def esc_code(s):
    """Code: escaped as text, and every hyphen is a minus sign (what a reader types)."""
    return glyphs(s.replace("\\", "\\e").replace("-", "\\-"))


def esc_hyphens(s):
    """A hyphen that starts a word (an option, a negative errno, a minus) is a minus sign."""
    return re.sub(r"(?<![\w\\])-(?=[\w-])", r"\\-", s)


def nohyph(s):
    """Identifiers (anything with an underscore) are never hyphenated: roff's \\% before each."""
    return re.sub(r"(?<![\w\\%])(?=\w*_)(\w+)", r"\\%\1", s)


def line_safe(s):
    """A roff text line must not start with a control character."""
    return "\\&" + s if s[:1] in (".", "'") else s


def verbatim(s):
    """A line of code or an aligned table, shown as is in constant width."""
    return line_safe(esc_code(s.rstrip()))


def code_spans(s, prose):
    """s with `code` spans in bold (hyphens as minus signs) and prose(part) for the rest."""
    out = []
    for part in re.split(r"(`[^`]+`)", s):
        if len(part) >= 2 and part[0] == part[-1] == "`":
            out.append("\\fB\\%" + esc_code(part[1:-1]) + "\\fR")
        else:
            out.append(prose(part))
    return word_starts("".join(out))


def word_starts(s):
    """roff's \\% prevents hyphenation only at the start of a word (inside one it is a
    hyphenation point): move it there, "(\\%\\fBcio_x\\fR)" to "\\%(\\fBcio_x\\fR)"."""
    return re.sub(r"\S+", lambda m: "\\%" + m.group(0).replace("\\%", "")
                  if "\\%" in m.group(0) else m.group(0), s)


def page_refs(s):
    """Every "name(N)" a reference to a manual page: bold, never hyphenated."""
    return re.sub(
        r"(?<![\w\\%])(?:\\%)?([a-z][\w.-]*)\(([1-8])\)",
        lambda m: ref("%s(%s)" % (m.group(1), m.group(2))),
        s,
    )


def inline_c(s, params=()):
    """Prose from a C comment: @param in italics (only the names in @params: "@name" is also
    how cio writes a Linux abstract address), name() and `code` in bold."""

    def prose(p):
        p = esc_hyphens(esc_basic(p))
        p = re.sub(
            r"(?<![\w@])@(\w+)",
            lambda m: "\\fI\\%%%s\\fR" % m.group(1) if m.group(1) in params else m.group(0),
            p,
        )
        p = re.sub(r"(?<![\\\w])([A-Za-z_]\w*)\(\)", r"\\fB\1\\fR()", nohyph(p))
        return page_refs(p)

    return code_spans(s, prose)


def plain(s):
    """Text for the NAME line: no fonts; @param loses its marker."""
    return esc_hyphens(esc_basic(re.sub(r"@(\w+)", r"\1", s.replace("`", ""))))


def quote_arg(s):
    return '"' + s.replace('"', '\\(dq') + '"'


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


BULLET = re.compile(r"^( *)- (\S.*)$")


def comment_paras_to_roff(paras, params=()):
    """Paragraphs (lists of lines, indentation kept) of comment text to roff.

    Lines indented under the text are verbatim (code, aligned tables); "- " starts a bullet
    whose continuation lines are indented to its text.
    """
    out = []
    for para in paras:
        out.append(".PP")
        mode = "text"
        col = 0
        i = 0
        prev = ""
        while i < len(para):
            line = para[i]
            ind = indent_of(line)
            b = BULLET.match(line)
            limit = col + 2 if mode == "item" else 2
            if b and ind <= 2 and not (mode == "item" and ind > col):
                out += [".IP \\(bu 2", line_safe(inline_c(b.group(2), params))]
                mode, col, prev = "item", ind + 2, b.group(2)
                i += 1
            elif ind >= limit:
                run = []
                while i < len(para) and indent_of(para[i]) >= limit and not (
                    BULLET.match(para[i]) and indent_of(para[i]) <= 2
                ):
                    run.append(para[i])
                    i += 1
                cut = min(indent_of(r) for r in run)
                out += [".RS 4", ".EX"]
                out += [verbatim(r[cut:]) for r in run]
                out += [".EE", ".RE"]
                prev = ""
            elif mode == "item" and (ind >= col or not re.search(r"[.:;]$", prev.rstrip())):
                out.append(line_safe(inline_c(line.strip(), params)))
                prev = line
                i += 1
            else:
                if mode == "item":
                    out.append(".PP")
                mode, col = "text", 0
                out.append(line_safe(inline_c(line.strip(), params)))
                prev = line
                i += 1
    return out


def split_paras(lines):
    paras, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


def top_level(text):
    """(index, character) of text outside parentheses and brackets."""
    depth = 0
    for i, c in enumerate(text):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        elif depth == 0:
            yield i, c


def first_sentence(text):
    """The first sentence of a summary (the rest of it stays in DESCRIPTION)."""
    for i, c in top_level(text):
        if c == ".":
            rest = text[i + 1 :]
            word = re.search(r"(\w+(?:\.\w+)*)$", text[:i])
            if word and word.group(1).lower() in ("e.g", "i.e", "etc", "vs"):
                continue
            if rest == "" or re.match(r"\s+[A-Z]", rest):
                return text[:i]
    return text.rstrip(".")


def name_line(summary, limit=90):
    """The NAME line's description: the summary's first sentence, cut at its first top-level
    ": ", "; " or " \u2014 " when longer than @limit (the rest stays in DESCRIPTION)."""
    text = first_sentence(summary)
    if len(text) <= limit:
        return text
    for i, _ in top_level(text):
        if i >= 8 and (text[i : i + 2] in (": ", "; ") or text[i : i + 3] == " \u2014 "):
            return text[:i]
    return text


# ---------------------------------------------------------------------------------------------
# headers


class Group:
    """Prototypes that share one comment."""

    def __init__(self, header, comment, protos, defines, notes, is_doc, line):
        self.header = header
        self.is_doc = is_doc  # opened with /** (a doc block), not /*
        self.line = line  # where the comment starts in the header (1-based)
        self.comment = comment  # list of lines, or None
        self.protos = protos  # list of (name, [lines])
        self.defines = defines  # trailing #define lines of the group
        self.notes = notes  # [(title, [lines])]
        self.names = [n for n, _ in protos]


class Header:
    def __init__(self, path):
        self.path = path
        self.stem = os.path.basename(path)[:-2]
        self.include = "cio/" + os.path.basename(path)
        self.top = []  # top comment lines
        self.groups = []
        self.chunks = []  # (comment lines or None, code lines) of types and constants
        self.sections = []  # [(title, notes, [groups])] in order
        self.undocumented = []
        self.conditional = []  # lines of CIO_EXPORT prototypes inside #if regions (no page)


def comment_lines(raw):
    """The text of a /* */ comment: markers and the " * " prefix gone, indentation kept."""
    lines = raw.split("\n")
    out = []
    for k, line in enumerate(lines):
        s = line
        if k == 0:
            s = re.sub(r"^\s*/\*\*?", "", s)
            s = s[1:] if s.startswith(" ") else s
        else:
            s = re.sub(r"^\s*\*(?!/)", "", s, count=1)
            s = s[1:] if s.startswith(" ") else s
        if k == len(lines) - 1:
            s = re.sub(r"\s*\*/\s*$", "", s)
        out.append(s.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


PROTO_NAME = re.compile(r"(cio_\w+)\s*\(")


def parse_header(path):
    h = Header(path)
    src = open(path, encoding="utf-8").read().split("\n")
    # Items: ("comment", raw, is_doc, line) ("blank",) ("proto", name, lines) ("code", line)
    # ("define", line); lines inside #if regions other than the include guard are skipped.
    items = []
    depth = 0
    guard_seen = False
    i = 0
    while i < len(src):
        line = src[i]
        st = line.strip()
        if st.startswith("#if"):
            if not guard_seen and re.match(r"#ifndef CIO_\w+_H$", st):
                guard_seen = True
            depth += 1
            i += 1
            continue
        if st.startswith("#endif"):
            depth -= 1
            i += 1
            continue
        if st.startswith("#else") or st.startswith("#elif"):
            i += 1
            continue
        inner = depth > 1
        if st.startswith("/*") and not inner:
            raw = [line]
            while "*/" not in src[i] and i + 1 < len(src):
                i += 1
                raw.append(src[i])
            items.append(("comment", "\n".join(raw), st.startswith("/**"), i + 2 - len(raw)))
            i += 1
            continue
        if inner:
            # keep a (skipped) marker so that a comment is not attached across the region
            if st.startswith("CIO_EXPORT "):
                h.conditional.append(i + 1)
            items.append(("skip",))
            i += 1
            continue
        if not st:
            items.append(("blank",))
        elif st.startswith("CIO_EXPORT "):
            lines = [line]
            while not src[i].rstrip().endswith(";"):
                i += 1
                lines.append(src[i])
            m = PROTO_NAME.search(" ".join(lines))
            items.append(("proto", m.group(1), lines))
        elif st.startswith("#define"):
            lines = [line]
            while src[i].rstrip().endswith("\\"):
                i += 1
                lines.append(src[i])
            items.append(("define", lines))
        else:
            items.append(("code", line))
        i += 1

    # the top comment: the first comment of the file
    k = 0
    while k < len(items) and items[k][0] != "comment":
        k += 1
    if k < len(items):
        h.top = comment_lines(items[k][1])
        items[k] = ("blank",)

    title1, title2 = "", ""
    notes1, notes2 = [], []
    state = {"entry": None, "title": None}

    def entry():
        """The current section entry of the page's function list: (title, notes, groups)."""
        title = " \u2014 ".join(t for t in (title1, title2) if t)
        e = state["entry"]
        if e is None or state["title"] != title:
            e = (title, [], [])
            state["entry"], state["title"] = e, title
            h.sections.append(e)
        return e

    def kind(j):
        return items[j][0] if j < len(items) else "end"

    def take_protos(j):
        """The run of prototypes (and #defines among them) from j: (protos, defines, next j)."""
        protos, defines = [], []
        while kind(j) in ("proto", "define"):
            if items[j][0] == "proto":
                protos.append((items[j][1], items[j][2]))
            else:
                defines += items[j][1]
            j += 1
        return protos, defines, j

    def take_code(j):
        """The run of code and #define lines from j: (lines, next j)."""
        code = []
        while kind(j) in ("code", "define"):
            code += [items[j][1]] if items[j][0] == "code" else items[j][1]
            j += 1
        return code, j

    j = 0
    while j < len(items):
        it = items[j]
        if it[0] != "comment" and it[0] != "proto":
            if it[0] in ("code", "define"):
                code, j = take_code(j)
                if not any(re.match(r'\s*(extern "C"|}\s*$)', c) for c in code):
                    if not re.match(r"#define CIO_\w+_H$", code[0].strip()):
                        h.chunks.append((None, code))
                continue
            j += 1
            continue
        if it[0] == "comment":
            text = comment_lines(it[1])
            joined = " ".join(t.strip() for t in text)
            if re.fullmatch(r"=+", joined):
                # a banner: /* === */ /* Title */ /* === */
                if kind(j + 1) == "comment" and kind(j + 2) == "comment":
                    title1 = " ".join(t.strip() for t in comment_lines(items[j + 1][1]))
                    title2, notes1, notes2 = "", [], []
                    j += 3
                    continue
                j += 1
                continue
            m = re.fullmatch(r"-{3,}\s*(.*?)\s*-{3,}", joined)
            if m:
                title2, notes2 = m.group(1), []
                j += 1
                continue
            nxt = kind(j + 1)
            if nxt == "proto":
                protos, defines, j = take_protos(j + 1)
                g = Group(h, text, protos, defines, list(notes1 + notes2), it[2], it[3])
                h.groups.append(g)
                entry()[2].append(g)
                continue
            if nxt in ("code", "define"):
                code, j = take_code(j + 1)
                h.chunks.append((text, code))
                continue
            # a comment on its own: about the types above it when no section or function has
            # come yet, else a note of the current section
            if not (title1 or title2 or h.groups):
                h.chunks.append((text, []))
                j += 1
                continue
            title = " \u2014 ".join(t for t in (title1, title2) if t)
            (notes2 if title2 else notes1).append((title, text))
            e = entry()
            if e[2]:
                # after some of the section's functions: a new entry, no heading of its own
                e = ("", [], [])
                state["entry"] = e
                h.sections.append(e)
            e[1].append(text)
            j += 1
            continue
        # a prototype without a comment of its own
        protos, _, j = take_protos(j)
        h.undocumented += [n for n, _ in protos]
    return h


# The first line of a doc block: "cio_x() - summary" or "cio_x() / _y() / cio_z() - summary".
HEAD = re.compile(r"^((?:cio_\w+|_\w+)\(\)(?:\s*/\s*(?:cio_\w+|_\w+)\(\))*)\s+-\s+(.*)$")


def parse_doc(lines):
    """Split a doc comment into summary, params [(names, text)], body paragraphs, return."""
    paras = split_paras(lines)
    # "Return:" at the start of a line or after a sentence, to the end of its paragraph
    ret = []
    kept = []
    for p in paras:
        for k, line in enumerate(p):
            m = re.search(r"(^|(?<=\. ))Return:\s*", line)
            if m:
                before = line[: m.start()].rstrip()
                ret += [line[m.end() :]] + [x.strip() for x in p[k + 1 :]]
                p = p[:k] + ([before] if before else [])
                break
        if p:
            kept.append(p)
    paras = kept
    # the name line
    summary_lines = []
    if paras:
        first = paras[0]
        m = HEAD.match(first[0])
        if m:
            first = [m.group(2)] + first[1:]
        paras[0] = first
    # params: a line starting "@x:" or "@x, @y:"; indented lines continue it
    param_re = re.compile(r"^@\w+(?:,\s*@\w+)*:\s")
    params = []
    body = []
    for n, p in enumerate(paras):
        rest = []
        k = 0
        while k < len(p):
            if param_re.match(p[k]):
                text = [p[k]]
                k += 1
                while k < len(p) and p[k].startswith(" "):
                    text.append(p[k].strip())
                    k += 1
                whole = " ".join(text)
                for piece in re.split(r";\s+(?=@\w+(?:,\s*@\w+)*:\s)", whole):
                    pm = re.match(r"^(@\w+(?:,\s*@\w+)*):\s*(.*)$", piece)
                    pn = [x.strip()[1:] for x in pm.group(1).split(",")]
                    params.append((pn, pm.group(2)))
            else:
                if n == 0 and not params and not rest:
                    summary_lines.append(p[k])
                else:
                    rest.append(p[k])
                k += 1
        if rest:
            body.append(rest)
    summary = " ".join(s.strip() for s in summary_lines)
    return summary, params, body, " ".join(r.strip() for r in ret if r.strip())


# ---------------------------------------------------------------------------------------------
# handle conversions (the _Generic macros of the same name as a core function)


def parse_conversions(headers, warnings):
    """The handle types each converting macro accepts, read from the C11 _Generic selections
    (what a C program gets) and checked against the C++ overloads of the same converters.

    Returns ({converter: [types]}, {function: [(argument position, converter)]}).
    """
    bodies = {}  # macro name -> body, continuation lines joined
    cxx = {}  # converter -> [types] from the C++ overloads
    macros = {}
    for h in headers:
        text = open(h.path, encoding="utf-8").read()
        joined = re.sub(r"\\\n", " ", text)
        for m in re.finditer(r"^#define (\w+)\(([^)]*)\)(.*)$", joined, re.M):
            bodies.setdefault(m.group(1), m.group(3))
        for m in re.finditer(r"^CIO__CONV\((\w+),\s*(\w+),\s*(\w+)\)", text, re.M):
            cxx.setdefault(m.group(1), []).append(m.group(3))
        for m in re.finditer(r"^#define (cio_\w+)\(([^)]*)\)\s+\((\1)\)\((.*)\)\s*$", joined, re.M):
            pos = []
            for k, a in enumerate(split_top(m.group(4))):
                cm = re.match(r"\s*(cio__as_\w+)\(\w+\)\s*$", a)
                if cm:
                    pos.append((k, cm.group(1)))
            if pos:
                macros[m.group(1)] = pos

    def generic_types(name, seen=()):
        body = bodies.get(name, "")
        types = []  # in the order the selection lists them
        for m in re.finditer(r"\b(cio_\w+)\s*\*\s*:|\b(CIO__[A-Z_]+)\(", body):
            if m.group(1):
                types.append(m.group(1))
            elif m.group(2) not in seen:
                types += generic_types(m.group(2), seen + (name,))
        return types

    conv = {}
    for converter in sorted({c for pos in macros.values() for _, c in pos}):
        types = generic_types(converter)
        conv[converter] = types
        if not types:
            warnings.append("%s: no _Generic selection found for this converter" % converter)
        elif converter in cxx and sorted(cxx[converter]) != sorted(types):
            warnings.append(
                "%s accepts %s in C but %s in C++"
                % (converter, sorted(types), sorted(cxx[converter]))
            )
    return conv, macros


def split_top(s):
    out, depth, cur = [], 0, ""
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out


def param_names(proto_lines):
    text = " ".join(l.strip() for l in proto_lines)
    inner = text[text.index("(") + 1 : text.rindex(")")]
    names = []
    for a in split_top(inner):
        a = a.strip()
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", a)
        if fp:
            names.append(fp.group(1))
            continue
        m = re.search(r"(\w+)\s*(\[[^\]]*\])?$", a)
        names.append(m.group(1) if m and a != "void" else "")
    return names


# ---------------------------------------------------------------------------------------------
# pages


class Site:
    def __init__(self, src, version):
        self.src = src
        self.version = version
        self.warnings = []
        hdir = os.path.join(src, "include", "cio")
        self.headers = [
            parse_header(os.path.join(hdir, f))
            for f in sorted(os.listdir(hdir))
            if f.endswith(".h") and f != "version.h"
        ]
        self.exports = {}
        self.groups = []
        for h in self.headers:
            for g in h.groups:
                self.groups.append(g)
                for n in g.names:
                    self.exports[n] = g
            for n in h.undocumented:
                self.warnings.append("%s: %s() has no doc block: no page" % (h.include, n))
            for line in h.conditional:
                self.warnings.append(
                    "%s:%d: a CIO_EXPORT prototype inside an #if region: no page"
                    % (h.include, line)
                )
        for g in self.groups:
            self.check_group(g)
        self.conv, self.macros = parse_conversions(self.headers, self.warnings)
        for name in sorted(self.macros):
            if name not in self.exports:
                self.warnings.append("macro %s() converts for a function with no page" % name)
        self.typedefs = {}  # name -> (comment, code)
        for h in self.headers:
            for comment, code in h.chunks:
                text = "\n".join(code)
                for m in re.finditer(
                    r"\btypedef\s+(?:struct|enum|union)\s*\w*\s*\{.*?\}\s*(\w+)\s*;"  # with a body
                    r"|\btypedef\b[^;{}]*?\(\s*\*\s*(\w+)\s*\)[^;{}]*;"  # a function pointer
                    r"|\btypedef\b[^;{}]*?(\w+)\s*;",  # any other
                    text,
                    re.S,
                ):
                    name = m.group(1) or m.group(2) or m.group(3)
                    self.typedefs[name] = (comment, code)
        self.concepts = {"cio/%s.h" % h.stem: "cio-%s" % h.stem for h in self.headers}
        # function-like macros of the public headers (cio_as_socket(), ...): names a page may use
        self.public_macros = set()
        for h in self.headers:
            text = open(h.path, encoding="utf-8").read()
            self.public_macros.update(re.findall(r"^#define (cio_\w+)\(", text, re.M))
        self.tools = []  # [(name, summary)] of the section-1 pages, set by main()
        self.concepts7 = []  # the section-7 pages written in docs/man/ but cio(7), by main()

    def check_group(self, g):
        """Warn about a doc block that does not follow the convention of cio's headers:

            /**
             * cio_x() - summary.            (or "cio_x() / _y() - ..." for a group)
             * @param: what it is.
             *
             * Body paragraphs.
             *
             * Return: values.
             */

        A setter's doc block may also cover its getter (cio_x_set_y() and cio_x_y()).
        """
        where = "%s:%d" % (g.header.include, g.line)
        first = g.names[0]
        if not g.is_doc:
            self.warnings.append(
                "%s: the comment above %s() opens with /*, not /**" % (where, first)
            )
        m = HEAD.match(g.comment[0]) if g.comment else None
        if not m:
            self.warnings.append("%s: the doc block of %s() does not start with '%s() - '"
                                 % (where, first, first))
            return
        named, wrong = [], False
        for k, head in enumerate(re.findall(r"(cio_\w+|_\w+)\(\)", m.group(1))):
            full = [n for n in g.names if n == head or (head.startswith("_") and n.endswith(head))]
            if (k == 0 and head != first) or not full:
                self.warnings.append("%s: the doc block names %s(), which is not the function it "
                                     "documents (%s)" % (where, head, ", ".join(g.names)))
                wrong = True
                continue
            named.append(full[0])
        for n in g.names if not wrong else []:
            if n not in named and not any(n == s.replace("_set_", "_", 1) for s in named):
                self.warnings.append("%s: %s() shares the doc block of %s() without being named "
                                     "in its first line" % (where, n, first))
        if not parse_doc(g.comment)[0].strip():
            self.warnings.append("%s: the doc block of %s() has no summary" % (where, first))
        known = self.params_of(g)
        for line in g.comment:
            for pm in re.finditer(r"(?<![\w@`])@(\w+)", line):
                if pm.group(1) not in known:
                    self.warnings.append("%s: @%s in the doc block of %s() is not a parameter"
                                         % (where, pm.group(1), first))

    def th(self, name, sec, volume):
        """The page's header: a comment that it is generated, and the title line."""
        return [
            '.\\" Generated by scripts/gen-man.py from the cio sources: do not edit.',
            ".TH %s %s %s %s %s"
            % (
                quote_arg(name.upper()),
                sec,
                '""',
                quote_arg("cio " + self.version),
                quote_arg(volume),
            ),
        ]

    def params_of(self, g):
        """The parameter names of every prototype of the group."""
        names = set()
        for _, lines in g.protos:
            names.update(n for n in param_names(lines) if n)
        return names

    def summary_of(self, g):
        if g.comment is None:
            return ""
        return parse_doc(g.comment)[0]

    # ---- section 3 ----
    def page3(self, name):
        g = self.exports[name]
        h = g.header
        # a page stands alone: "the top of this header" is the header's section-7 page
        # (a phrase cut by a line break becomes one line with the rest of the next one)
        text = re.sub(r"\bthe\s+top\s+of\s+this\s+header\b(\n *)?", "cio-%s(7)" % h.stem,
                      "\n".join(g.comment))
        comment = re.sub(r"\bthis\s+header\b(\n *)?", h.include, text).split("\n")
        summary, params, body, ret = parse_doc(comment)
        if not summary and body:
            summary = " ".join(x.strip() for x in body[0])
            body = body[1:]
        pnames = self.params_of(g)
        out = self.th(name, 3, "cio Library Functions")
        out += [".SH NAME", "%s \\- %s" % (", ".join(g.names), plain(name_line(summary)))]
        out += [".SH LIBRARY", "cio (\\fIlibcio\\fR, \\fI\\-lcio\\fR; \\fBpkg\\-config cio\\fR)"]
        out += [".SH SYNOPSIS", ".nf", ".B #include <%s>" % h.include, ".fi", ".PP", ".EX"]
        for k, (_, lines) in enumerate(g.protos):
            if k:
                out.append("")
            out += [verbatim(l) for l in strip_export(lines)]
        for d in g.defines:
            out.append(verbatim(d))
        out.append(".EE")
        out.append(".SH DESCRIPTION")
        out += comment_paras_to_roff([[cap(summary)]], pnames)
        out += comment_paras_to_roff(body, pnames)
        types = self.types_of(g)
        if types:
            out += [".SS Types"] + code_blocks(types)
        if params:
            out.append(".SH PARAMETERS")
            for pn, text in params:
                out += [
                    ".TP",
                    ", ".join("\\fI%s\\fR" % esc_basic(p) for p in pn),
                    line_safe(inline_c(text, pnames)),
                ]
        if ret:
            out += [".SH RETURN VALUE", ".PP", line_safe(inline_c(cap(ret), pnames))]
        notes = self.notes3(g, name)
        if notes:
            out += [".SH NOTES"] + notes
        out += [".SH SEE ALSO"] + self.see_also(g, name, summary, body, params, ret)
        return out

    def types_of(self, g):
        seen, out = set(), []
        text = " ".join(" ".join(l) for _, l in g.protos)
        for ident in re.findall(r"\b(cio_\w+)\b", text):
            if ident in seen or ident in g.names or ident == "cio_addr":
                continue
            seen.add(ident)
            t = self.typedefs.get(ident)
            if t is None:
                continue
            code = "\n".join(t[1])
            if re.search(r"typedef\s+struct\s+(\w+)\s+\1\s*;", code) and "{" not in code:
                continue  # opaque handle
            if t not in out:
                out.append(t)
        return out

    def notes3(self, g, name):
        out = []
        shown = None
        for title, text in g.notes:
            if title and title != shown:
                out.append(".SS %s" % quote_arg(esc_basic(cap(title))))
                shown = title
            out += comment_paras_to_roff(split_paras(text))
        if name in self.macros:
            pnames = param_names(dict(g.protos)[name])
            accepts = []
            for pos, conv in self.macros[name]:
                types = ["\\%%\\fB%s\\ *\\fR" % t for t in self.conv.get(conv, [])]
                if pos < len(pnames) and types:
                    listed = types[-1]
                    if len(types) > 1:
                        listed = ", ".join(types[:-1]) + " or " + listed
                    accepts.append("\\fI\\%%%s\\fR may be a %s" % (pnames[pos], listed))
            out += [
                ".SS Handle conversion",
                ".PP",
                "\\%%\\fB%s\\fR() is also a macro of the same name that converts its handle" % name,
                "argument at no cost, checked by the compiler:",
                "; ".join(accepts) + "; anything else does not compile.",
                "\\%%\\fB(%s)\\fR(...) calls the function itself, to pass NULL or take its" % name,
                "address; \\fBCIO_NO_GENERIC\\fR turns the macros off (see %s)."
                % ref("cio-socket(7)"),
            ]
        return out

    def see_also(self, g, name, summary, body, params, ret):
        text = " ".join(
            [summary, ret]
            + [" ".join(p) for p in body]
            + [t for _, t in params]
            + [" ".join(" ".join(n) for _, n in g.notes)]
        )
        funcs = [n for n in g.names if n != name]
        # the same operation in its other forms: cio_dgram_recv(), _try_recv(), _poll_recv()
        for n in g.names:
            for e in sorted(self.exports):
                if e not in g.names and e not in funcs and base_op(e) == base_op(n):
                    funcs.append(e)
        for m in re.findall(r"\b(cio_\w+)\(\)", text):
            if m in self.exports and m != name and m not in funcs:
                funcs.append(m)
        pages = ["%s(3)" % f for f in funcs]
        concepts = ["cio-%s" % g.header.stem]
        for m in re.findall(r"\bcio/(\w+)\.h\b", text):
            c = "cio-%s" % m
            if "cio/%s.h" % m in self.concepts and c not in concepts:
                concepts.append(c)
        # a call that can be cancelled or time out: the page that says what that leaves behind
        if re.search(r"-ECANCELED|-ETIMEDOUT|[Cc]ancel safe", text):
            concepts += [c for c in self.concepts7 if c == "cio-cancellation"]
        pages += ["%s(7)" % c for c in concepts] + ["cio(7)"]
        return [", ".join(ref(p) for p in pages)]

    # ---- section 7: one page per header ----
    def page7_header(self, h):
        name = "cio-%s" % h.stem
        top = list(h.top)
        first = top[0] if top else ""
        top[0:1] = [re.sub(r"^cio/\w+\.h:\s*", "", first)]
        paras = split_paras(top)
        summary = " ".join(x.strip() for x in paras[0]) if paras else ""
        out = self.th(name, 7, "cio Manual")
        short = first_sentence(summary).split(" \u2014 ")[0]
        out += [".SH NAME", "%s \\- %s" % (name, plain(short))]
        out += [".SH SYNOPSIS", ".nf", ".B #include <%s>" % h.include, ".fi"]
        if paras:
            paras[0] = [cap(paras[0][0])] + paras[0][1:]
        out += [".SH DESCRIPTION"] + comment_paras_to_roff(caps_heads(paras))
        chunks = [c for c in h.chunks if not is_internal(c)]
        if chunks:
            out += [".SH TYPES AND CONSTANTS"] + code_blocks(chunks)
        if h.groups:
            out.append(".SH FUNCTIONS")
            for title, notes, groups in h.sections:
                if not groups:
                    continue
                if title:
                    out.append(".SS %s" % quote_arg(esc_basic(cap(title))))
                for n in notes:
                    out += comment_paras_to_roff(split_paras(n))
                for g in groups:
                    summ = plain(name_line(self.summary_of(g)))
                    tags = [ref("%s(3)" % n) for n in g.names]  # one per line (.TQ)
                    out += [".TP", tags[0]] + [x for t in tags[1:] for x in (".TQ", t)]
                    out.append(line_safe(summ))
        refs = ["cio(7)"] + ["%s(7)" % c for c in self.concepts7]
        refs += ["cio-%s(7)" % o.stem for o in self.headers if o is not h]
        out += [".SH SEE ALSO", ", ".join(ref(r) for r in refs)]
        return name, out

    # ---- section 7: cio(7) ----
    def headers_table(self):
        out = []
        for h in self.headers:
            top = list(h.top)
            top[0:1] = [re.sub(r"^cio/\w+\.h:\s*", "", top[0] if top else "")]
            paras = split_paras(top)
            summ = " ".join(x.strip() for x in paras[0]) if paras else ""
            out += [
                ".TP",
                "\\fB<%s>\\fR \\(em \\fBcio\\-%s\\fR(7), %d functions"
                % (h.include, h.stem, sum(len(g.names) for g in h.groups)),
                line_safe(plain(first_sentence(summ))) + ".",
            ]
        return out

    def quote(self, include, lead):
        """The paragraph of a header's comments (its top comment, the comments among its types,
        the notes of its sections) that starts with @lead; a warning when there is none."""
        for h in self.headers:
            if h.include != include:
                continue
            texts = [h.top] + [c for c, _ in h.chunks if c]
            texts += [n for _, notes, _ in h.sections for n in notes]
            for text in texts:
                for para in split_paras(text):
                    if " ".join(x.strip() for x in para).startswith(lead):
                        return comment_paras_to_roff(caps_heads([para]))
        self.warnings.append(
            "@quote %s %s: no paragraph of %s starts so" % (include, lead, include)
        )
        return []

    def tools_list(self):
        """The section-1 pages, one tagged paragraph each: the tool and its NAME line."""
        out = []
        for name, summary in self.tools:
            out += [".TP", ref("%s(1)" % name), line_safe(md_inline(summary))]
        return out


def base_op(name):
    """A function's name without its form: cio_x_try_y and cio_x_poll_y are forms of cio_x_y."""
    for form in ("_try_", "_poll_"):
        k = name.find(form, len("cio"))
        if k > len("cio"):
            return name[:k] + name[k + len(form) - 1 :]
    return name


def is_internal(chunk):
    """Chunks not worth showing: #include lines, and the conversion machinery (a chunk whose
    every definition is an internal cio__/CIO__ name)."""
    comment, code = chunk
    code = [c for c in code if not c.strip().startswith("#include")]
    if not code:
        return True
    text = "\n".join(code)
    defined = re.findall(r"^\s*#define\s+(\w+)", text, re.M)
    if re.search(r"\btypedef\b", text) or not defined:
        return False
    return all(re.match(r"(cio|CIO)__", d) for d in defined)


def cap(s):
    """Capitalise a sentence that starts with a plain word (not an identifier or a value)."""
    m = re.match(r"^([a-z][a-z']*)(\b(?![_(]))", s)
    return s[0].upper() + s[1:] if m else s


def caps_heads(paras):
    """A paragraph led by an all-capitals word ("READINESS (tokio's rules).") keeps it bold."""
    out = []
    for p in paras:
        m = re.match(r"^([A-Z][A-Z ]{3,}[A-Z])(\s*\([^)]*\))?\.\s+(.*)$", p[0])
        if m:
            p = ["`%s%s.` %s" % (m.group(1), m.group(2) or "", m.group(3))] + p[1:]
        out.append(p)
    return out


def code_blocks(chunks):
    """Declarations shown as in the header, each with its comment: [(comment, code)]."""
    out = []
    for comment, code in chunks:
        out += [".PP", ".EX"]
        if comment:
            out += [verbatim(x) for x in c_comment(comment)]
        out += [verbatim(x) for x in code] + [".EE"]
    return out


def c_comment(lines):
    if len(lines) == 1:
        return ["/* %s */" % lines[0]]
    return ["/*"] + [(" * " + l).rstrip() for l in lines] + [" */"]


def strip_export(lines):
    out = []
    for k, l in enumerate(lines):
        if k == 0:
            out.append(l.replace("CIO_EXPORT ", "", 1))
        else:
            cut = min(len("CIO_EXPORT "), indent_of(l))
            out.append(l[cut:])
    return out


def ref(page):
    m = re.match(r"^(.*)\((\d)\)$", page)
    return "\\%%\\fB%s\\fR(%s)" % (m.group(1).replace("-", "\\-"), m.group(2))


# ---------------------------------------------------------------------------------------------
# markdown (docs/*.md, docs/man/cio.7.md) to roff: the subset those pages use — headings,
# paragraphs, indented and fenced code, "- " lists, definition lists ("term" then ":   text"),
# tables (shown as tagged paragraphs), **bold**, *italic*, `code`, [text](link).
# Directives, each alone on a line: "@generated headers" (the public headers, each with its
# section-7 page and function count), "@generated tools" (the section-1 pages), and
# "@quote cio/x.h LEAD" (the paragraph of that header's comments that starts with LEAD).


def md_inline(s):
    """Markdown inline text: **bold**, *italic*, `code`, [text](link), name(N)."""

    def prose(p):
        p = re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r"\1 (\2)", p)
        p = nohyph(esc_hyphens(esc_basic(p)))
        p = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", p)
        p = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\\fI\1\\fR", p)
        return page_refs(p)

    return code_spans(s, prose)


def md_to_roff(text, where, site):
    """A page in the Markdown subset above, as roff lines, and its (name, section)."""
    parts = {"headers": site.headers_table, "tools": site.tools_list}
    lines = text.split("\n")
    out = []
    title = None
    sec = None
    i = 0
    in_name = False

    def para_lines(start):
        """Lines of a paragraph from start: up to a blank line or a block start."""
        j = start
        got = []
        while j < len(lines) and lines[j].strip():
            if j > start and (
                lines[j].startswith("#")
                or lines[j].startswith("```")
                or BULLET.match(lines[j])
                or re.match(r"^:\s", lines[j])
                or (j + 1 < len(lines) and re.match(r"^:\s", lines[j + 1]))
            ):
                break
            got.append(lines[j])
            j += 1
        return got, j

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = re.match(r"^# (\S+)\((\d)\)\s*$", line)
        if m and title is None:
            title, sec = m.group(1), m.group(2)
            out += site.th(title, sec, "cio Manual")
            i += 1
            continue
        m = re.match(r"^(#{2,3}) (.*)$", line)
        if m:
            head = m.group(2).strip()
            if len(m.group(1)) == 2:
                out.append(".SH %s" % quote_arg(esc_basic(head.upper())))
                in_name = head.upper() == "NAME"
            else:
                out.append(".SS %s" % quote_arg(esc_basic(head)))
            i += 1
            continue
        m = re.match(r"^@(generated|quote) (\S+)\s*(.*?)\s*$", line)
        if m and site is not None:
            if m.group(1) == "quote":
                out += site.quote(m.group(2), m.group(3))
            elif m.group(2) in parts:
                out += parts[m.group(2)]()
            else:
                site.warnings.append("%s: unknown directive %s" % (where, line.strip()))
            i += 1
            continue
        if in_name:
            got, i = para_lines(i)
            t = " ".join(x.strip() for x in got)
            nm = re.match(r"^(\S+)\s+(?:-|\u2014|\u2013)\s+(.*)$", t)
            out.append("%s \\- %s" % (nm.group(1), md_inline(nm.group(2))))
            continue
        if line.startswith("```"):
            i += 1
            code = []
            while i < len(lines) and not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            i += 1
            out += [".PP", ".EX"] + [verbatim(c) for c in code] + [".EE"]
            continue
        if line.startswith("    "):
            code = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                code.append(lines[i][4:])
                i += 1
            while code and not code[-1].strip():
                code.pop()
            out += [".PP", ".RS 4", ".EX"] + [verbatim(c) for c in code] + [".EE", ".RE"]
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            for cells in rows[1:]:
                out += [".TP", md_inline(cells[0]), md_inline(" \u2014 ".join(cells[1:]))]
            continue
        b = BULLET.match(line)
        if b:
            out.append(".IP \\(bu 2")
            item = [b.group(2)]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out += [line_safe(md_inline(x)) for x in item]
            continue
        if i + 1 < len(lines) and re.match(r"^:\s", lines[i + 1]):
            out += [".TP", line_safe(md_inline(line.strip()))]
            i += 1
            first = True
            while i < len(lines):
                l = lines[i]
                if re.match(r"^:\s", l) and first:
                    out.append(line_safe(md_inline(l[1:].strip())))
                    first = False
                elif l.startswith("  ") and l.strip():
                    out.append(line_safe(md_inline(l.strip())))
                else:
                    break
                i += 1
            continue
        got, i = para_lines(i)
        out.append(".PP")
        out += [line_safe(md_inline(x.strip())) for x in got]
    return out, (title, sec)


# ---------------------------------------------------------------------------------------------


def write(path, lines):
    """Write a page, leaving an unchanged one alone (its time stamp too)."""
    text = "\n".join(lines) + "\n"
    assert NON_ASCII.search(text) is None, path
    if os.path.exists(path) and open(path, encoding="ascii").read() == text:
        return
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def markdown_pages(src, site):
    """The pages written in Markdown: docs/*.md whose first line is "# name(N)" (the tools'
    pages, also read on GitHub) and docs/man/*.md. Returns [(path, name, section, text)]."""
    found = []
    for d in (os.path.join(src, "docs"), os.path.join(src, "docs", "man")):
        for f in sorted(os.listdir(d)):
            if not f.endswith(".md"):
                continue
            path = os.path.join(d, f)
            text = open(path, encoding="utf-8").read()
            m = re.match(r"# ([\w.-]+)\(([1-8])\)\s*\n", text)
            if m:
                found.append((os.path.relpath(path, src), m.group(1), m.group(2), text))
            elif d.endswith("man"):
                site.warnings.append(
                    "%s: the first line is not '# name(N)'" % os.path.relpath(path, src)
                )
    return found


def name_summary(text):
    """The description on a Markdown page's NAME line ("name - what it is")."""
    m = re.search(r"^## NAME\s*\n\s*\n?(\S+)\s+(?:-|\u2014|\u2013)\s+(.*)$", text, re.M)
    return m.group(2).strip() if m else ""


def check_references(site, pages):
    """Every cio page a page refers to, "name(N)" in bold, must be one of the pages."""
    for (sec, name), lines in sorted(pages.items()):
        text = "\n".join(lines)
        for m in re.finditer(r"\\fB(cio[\w\\-]*)\\fR\(([1-8])\)", text):
            target = (m.group(2), m.group(1).replace("\\-", "-"))
            if target not in pages:
                site.warnings.append(
                    "%s(%s) refers to %s(%s), which is not a page"
                    % (name, sec, target[1], target[0])
                )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", default="")
    ap.add_argument("--check", action="store_true", help="exit 1 when there is any warning")
    a = ap.parse_args()
    version = a.version
    if not version:
        cm = open(os.path.join(a.src, "CMakeLists.txt"), encoding="utf-8").read()
        version = re.search(r"project\(cio VERSION ([\d.]+)", cm).group(1)
    site = Site(a.src, version)

    md = markdown_pages(a.src, site)
    site.tools = sorted((name, name_summary(text)) for _, name, sec, text in md if sec == "1")
    site.concepts7 = sorted(name for _, name, sec, _ in md if sec == "7" and name != "cio")
    pages = {}  # (section, name) -> lines
    for name in site.exports:
        pages[("3", name)] = site.page3(name)
    for h in site.headers:
        name, lines = site.page7_header(h)
        pages[("7", name)] = lines
    for where, name, sec, text in md:
        for f in re.findall(r"\b(cio_\w+)\(\)", text):
            if f not in site.exports and f not in site.public_macros:
                site.warnings.append("%s: %s() is not a public function" % (where, f))
        if (sec, name) in pages:
            site.warnings.append("%s: %s(%s) is also generated from a header" % (where, name, sec))
        pages[(sec, name)] = md_to_roff(text, where, site)[0]
    tools = os.path.join(a.src, "tools")
    for t in sorted(os.listdir(tools)) if os.path.isdir(tools) else []:
        d = os.path.join(tools, t)
        if t != "common" and os.path.isdir(d) and any(f.endswith(".c") for f in os.listdir(d)):
            if ("1", t) not in pages:
                site.warnings.append("tools/%s: no page: write docs/<page>.md starting '# %s(1)'"
                                     % (t, t))
    check_references(site, pages)

    counts = {s: 0 for s in "137"}
    for s in "137":
        d = os.path.join(a.out, "man" + s)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.endswith("." + s) and (s, f[: -len(s) - 1]) not in pages:
                os.remove(os.path.join(d, f))  # a page whose source is gone
    for (s, name), lines in pages.items():
        write(os.path.join(a.out, "man" + s, "%s.%s" % (name, s)), lines)
        counts[s] += 1
    with open(os.path.join(a.out, "warnings.txt"), "w") as f:
        for w in site.warnings:
            f.write(w + "\n")
    for w in site.warnings:
        print("gen-man: warning: " + w, file=sys.stderr)
    with open(os.path.join(a.out, ".stamp"), "w") as f:
        f.write("man1 %d man3 %d man7 %d\n" % (counts["1"], counts["3"], counts["7"]))
    print(
        "gen-man: %d section-1, %d section-3, %d section-7 pages in %s, %d warnings"
        % (counts["1"], counts["3"], counts["7"], a.out, len(site.warnings))
    )
    return 1 if a.check and site.warnings else 0


if __name__ == "__main__":
    sys.exit(main())

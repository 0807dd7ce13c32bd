#!/usr/bin/env bash
# docs_links.sh - every relative link in README.md, docs/*.md and docs/*/*.md resolves: the file or
# directory it names exists in the checkout (and does not lie outside it), and a
# "#anchor" (in the same page or in another .md page) names a heading of that page, with
# GitHub's rule for heading anchors (lower case, punctuation dropped, spaces to '-',
# "-1", "-2" for repeats). Links with a scheme (https:, mailto:) are not followed; links
# inside code blocks and code spans are not links. One PASS line per page whose links all
# resolve; one FAIL line per broken link, naming the page, the line and the link.
set -u
top="${MLHEP_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
cd "$top" || exit 1
exec python3 - README.md docs/*.md docs/*/*.md <<'EOF'
import os, re, sys

top = os.getcwd()
pages = [p for p in sys.argv[1:] if os.path.isfile(p)]
if "README.md" not in pages or len(pages) < 2:
    print("FAIL docs links: expected README.md and docs/*.md, found: %s" % " ".join(pages))
    sys.exit(1)

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
CODESPAN = re.compile(r"(`+)(.+?)\1")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def prose_lines(path):
    """(line number, text) outside fenced code blocks"""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FENCE.match(line)
            if m:
                if fence is None:
                    fence = m.group(1)
                elif m.group(1) == fence:
                    fence = None
                continue
            if fence is None:
                yield n, line.rstrip("\n")


def slug(text):
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = text.replace("`", "")
    text = re.sub(r"<[^>]+>", "", text)
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        seen, out = {}, set()
        for _, line in prose_lines(path):
            m = HEADING.match(line)
            if m:
                s = slug(m.group(2))
                k = seen.get(s, 0)
                seen[s] = k + 1
                out.add(s if k == 0 else "%s-%d" % (s, k))
            for a in re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", line):
                out.add(a)
        anchor_cache[path] = out
    return anchor_cache[path]


failed = 0
for page in pages:
    links = bad = 0
    for n, line in prose_lines(page):
        text = CODESPAN.sub("", line)
        targets = [m.group(1) for m in LINK.finditer(text)]
        m = REFDEF.match(text)
        if m:
            targets.append(m.group(1))
        for t in targets:
            if not t or SCHEME.match(t):
                continue
            links += 1
            path, _, frag = t.partition("#")
            if path:
                rel = os.path.normpath(os.path.join(os.path.dirname(page), path))
                full = os.path.join(top, rel)
                if rel == ".." or rel.startswith("../") or os.path.isabs(path):
                    why = "points outside the checkout"
                elif not os.path.exists(full):
                    why = "no such file"
                else:
                    why = None
            else:
                rel, full, why = page, os.path.join(top, page), None
            if why is None and frag and rel.endswith(".md") and os.path.isfile(full):
                if frag not in anchors(rel):
                    why = "no heading with anchor #%s in %s" % (frag, rel)
            if why:
                print("FAIL docs links: %s:%d: (%s): %s" % (page, n, t, why))
                bad += 1
    if bad:
        failed += 1
    else:
        print("PASS docs links: %s (%d relative links)" % (page, links))
sys.exit(1 if failed else 0)
EOF

#!/usr/bin/env python3
"""Site-engine benchmark: full build time, peak memory and edit-to-reload latency of
`atelier` on a generated shop of 10,000 essences and 2,000 articles, with Zola building the very
same site when it is at ../shared/tools/zola/zola (or --zola PATH), and Hugo (Debian's `hugo`)
building the same corpus otherwise or as well.

    python3 benches/site.py [--essences 10000] [--articles 2000] [--runs 3] [--edits 15]
                            [--like-for-like] [--zola PATH] [--no-hugo]

--like-for-like makes both engines do more of what real Zola sites ask: a fifth of the articles
carry highlighted code ([markdown.highlighting]), the stylesheet is Sass (compile_sass), the
search index is built (elasticlunr, Zola's default) and 40 images are resized three ways each
(resize_image; both engines cache resized images in static/processed_images, which an "empty
output" run removes first).

Writes the corpus under $BENCH_DIR (default /tmp/atelier-bench) and prints a table.
"""
import argparse
import base64
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "site"

WORDS = (
    "lavender still copper flower distil harvest resin bark leaf seed root petal morning dew "
    "field hillside garrigue bergamot citrus peel zest rind cold pressed steam vapour condenser "
    "alembic flask amber glass bottle label ink vellum folio season spring summer autumn winter "
    "humour calming uplifting grounding clarifying note top heart base accord blend ratio drop "
    "diluted carrier almond jojoba skin room diffuser evening window linen wood cedar vetiver "
    "sandalwood frankincense myrrh rose jasmine orris iris violet tonka vanilla pepper clove "
    "cardamom ginger basil thyme rosemary sage mint eucalyptus pine fir juniper cypress lemon "
    "orange mandarin grapefruit neroli petitgrain geranium chamomile yarrow tansy immortelle"
).split()
HUMOURS = ["calming", "uplifting", "grounding", "clarifying"]
SEASONS = ["spring", "summer", "autumn", "winter"]
RARITIES = ["common", "rare", "limited"]


def sentence(rng):
    n = rng.randint(8, 18)
    words = [rng.choice(WORDS) for _ in range(n)]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def paragraph(rng, sentences):
    return " ".join(sentence(rng) for _ in range(sentences))


CODE = [
    ("rust", "fn blend(drops: u32, carrier_ml: u32) -> f32 {\n    // two per cent is four drops in ten\n    drops as f32 / (carrier_ml as f32 * 20.0) * 100.0\n}\n"),
    ("python", "def dilution(drops: int, ml: int) -> float:\n    \"\"\"Percent of essence in a blend.\"\"\"\n    return drops / (ml * 20) * 100\n"),
    ("toml", "[extra]\nsku = \"LAV-PROV\"\nprice = \"24.00\"\n"),
]


def png(width, height, seed):
    """A small RGB PNG (a gradient), written without any image library."""
    import struct
    import zlib
    rows = b"".join(
        b"\x00" + bytes(((x * 7 + seed) % 256, (y * 5 + seed * 3) % 256, ((x + y) * 3) % 256)[c] for x in range(width) for c in range(3))
        for y in range(height))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def body(rng, words_target, link):
    parts = [paragraph(rng, 3), "<!--more-->"]
    count = 60
    heading = 0
    while count < words_target:
        if count // 150 > heading:
            heading += 1
            parts.append(f"## {rng.choice(WORDS).capitalize()} and {rng.choice(WORDS)} {heading}")
        p = paragraph(rng, rng.randint(3, 6))
        if rng.random() < 0.3:
            p += " See " + link(rng) + "."
        parts.append(p)
        count += len(p.split())
    parts.append("- " + "\n- ".join(sentence(rng) for _ in range(3)))
    return "\n\n".join(parts) + "\n"


def write_corpus(base, essences, articles, flavour, like_for_like=False):
    """flavour: 'atelier' (Zola front matter, @/ links: Zola builds it as is) or 'hugo'."""
    rng = random.Random(42)
    content = base / "content"
    if base.exists():
        shutil.rmtree(base)
    (content / "compendium").mkdir(parents=True)
    (content / "journal").mkdir(parents=True)

    def essence_link(r):
        i = r.randrange(essences)
        return f"[essence {i}](@/compendium/essence-{i:05}.md)" if flavour == "atelier" else f"[essence {i}](/compendium/essence-{i:05}/)"

    if flavour == "atelier":
        (content / "_index.md").write_text('+++\ntitle = "Bench shop"\n+++\nA shop of many essences.\n')
        (content / "compendium/_index.md").write_text('+++\ntitle = "Compendium"\nsort_by = "weight"\npaginate_by = 24\n+++\nEvery essence.\n')
        (content / "journal/_index.md").write_text('+++\ntitle = "Journal"\nsort_by = "date"\npaginate_by = 24\ngenerate_feeds = true\n+++\nThe journal.\n')
    else:
        (content / "_index.md").write_text('+++\ntitle = "Bench shop"\n+++\nA shop of many essences.\n')
        (content / "compendium/_index.md").write_text('+++\ntitle = "Compendium"\n+++\nEvery essence.\n')
        (content / "journal/_index.md").write_text('+++\ntitle = "Journal"\n+++\nThe journal.\n')

    for i in range(essences):
        h, s, r = HUMOURS[i % 4], SEASONS[(i // 4) % 4], RARITIES[(i // 16) % 3]
        price = f"{rng.randint(8, 240)}.{rng.choice(['00', '50', '90'])}"
        tax = (f'[taxonomies]\nhumour = ["{h}"]\nseason = ["{s}"]\nrarity = ["{r}"]\n' if flavour == "atelier"
               else f'humour = ["{h}"]\nseason = ["{s}"]\nrarity = ["{r}"]\n')
        fm = (f'+++\ntitle = "Essence {i:05}"\ndescription = "{sentence(rng)}"\nweight = {i + 1}\n{tax}'
              f'[extra]\nsku = "ESS-{i:05}"\nlatin_name = "Planta {rng.choice(WORDS)}"\nprice = "{price}"\n'
              f'[[extra.sizes]]\nsku = "ESS-{i:05}-10"\nlabel = "10 ml"\nprice = "{price}"\n+++\n')
        (content / f"compendium/essence-{i:05}.md").write_text(fm + body(rng, rng.randint(400, 800), essence_link))

    for i in range(articles):
        y, d = 2015 + i // 365 % 11, i % 365
        date = time.strftime("%Y-%m-%d", time.gmtime(time.mktime((y, 1, 1, 12, 0, 0, 0, 0, 0)) + d * 86400))
        fm = f'+++\ntitle = "Article {i:05}"\ndescription = "{sentence(rng)}"\ndate = {date}\n+++\n'
        text = body(rng, rng.randint(400, 800), essence_link)
        if like_for_like and i % 5 == 0:
            lang, code = CODE[i % len(CODE)]
            text += f"\n\n```{lang},linenos\n{code}```\n"
        (content / f"journal/article-{i:05}.md").write_text(fm + text)

    (base / "static").mkdir()
    (base / "static/site.css").write_text("body{font-family:serif;max-width:40rem;margin:auto}\n")
    if flavour == "atelier":
        (base / "config.toml").write_text(
            'base_url = "https://bench.example"\ntitle = "Bench shop"\ndescription = "A benchmark shop"\n'
            'generate_feeds = true\nfeed_limit = 20\n'
            'taxonomies = [{ name = "humour", paginate_by = 24 }, { name = "season", paginate_by = 24 }, { name = "rarity", paginate_by = 24 }]\n'
            '[markdown]\nsmart_punctuation = true\n'
            '[extra.compendium]\nsection = "compendium"\n'
            '[extra.compendium.terms]\nhumour = ["calming", "uplifting", "grounding", "clarifying"]\n'
            'season = ["spring", "summer", "autumn", "winter"]\nrarity = ["common", "rare", "limited"]\n')
        shutil.copytree(HERE / "theme/templates", base / "templates")
        if like_for_like:
            # Top-level keys before the first table, the highlighting table under [markdown].
            text = (base / "config.toml").read_text()
            text = 'compile_sass = true\nbuild_search_index = true\n' + text
            text = text.replace("[markdown]\nsmart_punctuation = true\n",
                                "[markdown]\nsmart_punctuation = true\n[markdown.highlighting]\ntheme = \"github-dark\"\n")
            (base / "config.toml").write_text(text)
            (base / "sass").mkdir()
            (base / "sass/site.scss").write_text(
                "@use 'sass:math';\n$measure: 40rem;\n$ink: #2c2416;\n"
                "@mixin card { padding: math.div($measure, 40); border: 1px solid rgba($ink, .2); }\n"
                "body { font-family: serif; max-width: $measure; margin: auto; color: $ink;\n"
                "  article { @include card; h1 { font-size: 2rem; } } nav a { &:hover { color: darken($ink, 10%); } } }\n")
            (base / "static/img").mkdir(parents=True)
            for n in range(40):
                (base / f"static/img/photo-{n:02}.png").write_bytes(png(480, 320, n))
            gallery = "".join(
                f'{{% set a = resize_image(path="img/photo-{n:02}.png", width=240, height=160, op="fill") %}}'
                f'{{% set b = resize_image(path="img/photo-{n:02}.png", width=120, op="fit_width", format="webp", quality=75) %}}'
                f'{{% set c = resize_image(path="img/photo-{n:02}.png", width=96, height=96, format="jpg") %}}'
                f'<img src="{{{{ a.url }}}}" width="{{{{ a.width }}}}" height="{{{{ a.height }}}}">'
                f'<img src="{{{{ b.url }}}}"><img src="{{{{ c.url }}}}">\n' for n in range(40))
            index = (base / "templates/index.html").read_text()
            (base / "templates/index.html").write_text(index.replace("{% endblock", "<section>" + gallery + "</section>\n{% endblock", 1))
    else:
        (base / "hugo.toml").write_text(
            'baseURL = "https://bench.example/"\ntitle = "Bench shop"\npaginate = 24\n'
            'disableKinds = []\n[params]\ndescription = "A benchmark shop"\n'
            '[taxonomies]\nhumour = "humour"\nseason = "season"\nrarity = "rarity"\n'
            '[services.rss]\nlimit = 20\n[markup.goldmark.extensions]\ntypographer = true\n')
        shutil.copytree(HERE / "hugo-layouts", base / "layouts")


def timed(cmd, cwd=None):
    """Runs a command; returns (seconds, peak RSS in MiB of that child, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stdout}\n{r.stderr}")
    # ru_maxrss of children is the largest so far; measure each tool in its own process tree.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024, r.stdout


def peak_rss(cmd, cwd=None):
    """Peak RSS of one run, read by GNU time, in MiB."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M %e"] + cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{cmd} failed:\n{r.stderr}")
    kb, secs = r.stderr.strip().splitlines()[-1].split()
    return float(secs), int(kb) / 1024, r.stdout


def ws_connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /__atelier/livereload HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(1024)
    assert buf.startswith(b"HTTP/1.1 101"), buf
    return s


def ws_read(s):
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = s.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b
    head = exact(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(exact(2), "big")
    elif n == 127:
        n = int.from_bytes(exact(8), "big")
    return exact(n).decode()


def edit_latency(binary, site, edits, essences):
    port = 18000 + os.getpid() % 1000
    out = site / "serve-public"
    proc = subprocess.Popen([binary, "--root", str(site), "serve", "--port", str(port), "--output-dir", str(out), "--force"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    sys.exit("serve did not start")
                time.sleep(0.05)
        ws = ws_connect(port)
        ws.settimeout(30)
        n = essences * 4242 // 10000
        target = site / f"content/compendium/essence-{n:05}.md"
        original = target.read_text()
        samples = []
        for i in range(edits):
            text = original.replace("<!--more-->", f"Edit number {i} of the bench.\n\n<!--more-->", 1)
            t = time.perf_counter()
            target.write_text(text)
            while True:
                msg = ws_read(ws)
                if '"reload"' in msg:
                    break
            samples.append((time.perf_counter() - t) * 1000)
            page = (out / f"compendium/essence-{n:05}/index.html").read_text()
            assert f"Edit number {i} of the bench." in page, "the page is live when the reload goes out"
            time.sleep(0.3)  # let the feeds and sitemap follow before the next edit
        target.write_text(original)
        return samples
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--essences", type=int, default=10000)
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--edits", type=int, default=15)
    ap.add_argument("--no-hugo", action="store_true")
    ap.add_argument("--like-for-like", action="store_true", help="highlighting, Sass, search index and resized images on both sides")
    ap.add_argument("--zola", default=str(ROOT.parent / "shared/tools/zola/zola"), help="a Zola binary to run side by side")
    args = ap.parse_args()
    base = Path(os.environ.get("BENCH_DIR", "/tmp/atelier-bench"))
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "atelier"], cwd=ROOT, check=True)
    binary = str(ROOT / "target/release/atelier")

    atelier_site = base / "atelier"
    print(f"writing corpus: {args.essences} essences, {args.articles} articles…", flush=True)
    write_corpus(atelier_site, args.essences, args.articles, "atelier", args.like_for_like)
    words = sum(len(p.read_text().split()) for p in (atelier_site / "content").rglob("*.md"))
    print(f"corpus: {words:,} words in {args.essences + args.articles + 3:,} files")

    rows = []
    cold, warm = [], []
    for _ in range(args.runs):
        shutil.rmtree(atelier_site / "public", ignore_errors=True)
        shutil.rmtree(atelier_site / "static/processed_images", ignore_errors=True)
        secs, mib, stdout = peak_rss([binary, "--root", str(atelier_site), "build"])
        cold.append((secs, mib))
        summary = stdout.strip().splitlines()[-1]
    for _ in range(args.runs):
        secs, mib, _ = peak_rss([binary, "--root", str(atelier_site), "build"])
        warm.append((secs, mib))
    files = sum(1 for p in (atelier_site / "public").rglob("*") if p.is_file())
    html = sum(1 for p in (atelier_site / "public").rglob("*.html"))
    print(summary)
    rows.append(("atelier build, empty output", [s for s, _ in cold], max(m for _, m in cold)))
    rows.append(("atelier build, unchanged output", [s for s, _ in warm], max(m for _, m in warm)))

    zola = Path(args.zola)
    if zola.is_file() and os.access(zola, os.X_OK):
        version = subprocess.run([str(zola), "--version"], capture_output=True, text=True).stdout.strip()
        out = base / "zola-public"
        zcold, zwarm = [], []
        for _ in range(args.runs):
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(atelier_site / "static/processed_images", ignore_errors=True)
            zcold.append(peak_rss([str(zola), "--root", str(atelier_site), "build", "--output-dir", str(out), "--force"])[:2])
        for _ in range(args.runs):
            zwarm.append(peak_rss([str(zola), "--root", str(atelier_site), "build", "--output-dir", str(out), "--force"])[:2])
        zhtml = sum(1 for p in out.rglob("*.html"))
        rows.append((f"{version}, empty output ({zhtml:,} HTML)", [s for s, _ in zcold], max(m for _, m in zcold)))
        rows.append((f"{version}, existing output", [s for s, _ in zwarm], max(m for _, m in zwarm)))
        ratio = lambda ours, theirs: statistics.median(theirs) / statistics.median(ours)
        speedups = (f"atelier is {ratio([s for s, _ in cold], [s for s, _ in zcold]):.2f}× Zola into an empty folder, "
                    f"{ratio([s for s, _ in warm], [s for s, _ in zwarm]):.2f}× into an unchanged one; peak memory "
                    f"{max(m for _, m in cold) / max(m for _, m in zcold):.2f} of Zola's")
    else:
        speedups = None
        print(f"no Zola at {zola}: comparing with Hugo only")

    if not args.no_hugo and shutil.which("hugo"):
        hugo_site = base / "hugo"
        write_corpus(hugo_site, args.essences, args.articles, "hugo")
        version = subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.split()[1]
        runs = []
        for _ in range(args.runs):
            shutil.rmtree(hugo_site / "public", ignore_errors=True)
            runs.append(peak_rss(["hugo", "--quiet", "--source", str(hugo_site)])[:2])
        hugo_html = sum(1 for p in (hugo_site / "public").rglob("*.html"))
        rows.append((f"hugo {version} ({hugo_html:,} HTML files)", [s for s, _ in runs], max(m for _, m in runs)))
    elif not args.no_hugo:
        print("hugo not installed (apt-get install hugo): skipping the comparison")

    print(f"\n{files:,} files written, {html:,} of them HTML\n")
    print(f"{'build (' + str(args.runs) + ' runs)':45} {'best':>8} {'median':>8} {'worst':>8} {'peak RSS':>10}")
    for name, secs, mib in rows:
        print(f"{name:45} {min(secs):>6.2f} s {statistics.median(secs):>6.2f} s {max(secs):>6.2f} s {mib:>6.0f} MiB")
    if speedups:
        print(f"\n{speedups}")

    if args.edits:
        samples = edit_latency(binary, atelier_site, args.edits, args.essences)
        samples.sort()
        p90 = samples[int(len(samples) * 0.9) - 1] if len(samples) >= 10 else samples[-1]
        print(f"\nedit one essence → reload message ({len(samples)} edits): "
              f"median {statistics.median(samples):.1f} ms, p90 {p90:.1f} ms, max {samples[-1]:.1f} ms")


if __name__ == "__main__":
    main()

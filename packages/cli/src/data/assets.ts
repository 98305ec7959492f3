// Paths of files shipped in packages/core-graph/assets/. src/data and dist/data both sit two
// levels below the package root, so the same relative path works from source and from a build.
import * as path from 'path';

export const ASSETS_DIR = path.resolve(__dirname, '..', '..', 'assets');

/** The demo's binary sentiment TSVs (columns: sentence, label, rating, vader_id); see assets/sentiment/README.md. */
export function demoSentimentFiles(): { train: string; dev: string } {
  return { train: path.join(ASSETS_DIR, 'sentiment', 'train.tsv'), dev: path.join(ASSETS_DIR, 'sentiment', 'dev.tsv') };
}

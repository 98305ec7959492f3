export type { Seq2SeqActivation, Seq2SeqConfig, Seq2SeqFamily } from './config';
export { LEARNED_POSITION_OFFSET, parseSeq2SeqConfig, seq2seqConfig, TINY_MARIAN } from './config';
export { NMT_OPS, seq2seqAttentionOp, sinusoidalPositionsOp, stepPositionsOp } from './ops';
export {
  buildSeq2Seq, crossKeyNode, crossValueNode, ENCODER_OUTPUT_NODE, FINAL_LOGITS_BIAS, pastKeyInput, pastValueInput, presentKeyOutput,
  presentValueOutput, seq2seqBuilder, SHARED_EMBEDDING,
} from './model';
export type { PretrainedSeq2Seq } from './load';
export { checkSeq2SeqCheckpoint, loadSeq2Seq, seq2seqCheckpointKey, seq2seqLookup } from './load';
export type { EncoderState, LayerCache, Seq2SeqInputs } from './run';
export { configOf, decodeStep, disposeEncoderState, encode, seq2seqForward } from './run';
export type { GenerateOptions } from './generate';
export { generate } from './generate';
export type { BleuOptions, BleuScore, ChrfOptions, References } from './metrics';
export { bleuFromStats, corpusBleu, corpusChrf, sentenceBleu, tokenize13a } from './metrics';
export type { Seq2SeqBatch } from './train';
export { disposeSeq2SeqBatch, makeSeq2SeqBatch, seq2seqLoss } from './train';
export type { BpeJson, BpeTrainOptions } from './bpe';
export { BPE_FILE, BPE_FORMAT, BPE_LIMITS, BpeTokenizer, DEFAULT_SPECIALS, pretokenize, WORD_START } from './bpe';
export type { LanguagePair, NmtRecipe } from './recipes';
export {
  bapnaFiratAdapter, domainAdapterName, languageRules, NMT_RECIPES, nmtAdapterRegistry, pairAdapterName, pairName, parsePair, recipeAdapters, recipeGraph,
  recipePolicy, recipeRules, sourceAdapterName, targetAdapterName, targetTag, wholeModelRule,
} from './recipes';
export type { StepRecord, TrainTranslationOptions, TranslationCheckpoint, TranslationResult, TranslationTask } from './loop';
export { batchRows, trainTranslation } from './loop';
export type { CheckpointSettings } from './checkpoint';
export { CHECKPOINT_FORMAT, checkpointFile, readTranslationCheckpoint, removeTranslationCheckpoint, writeTranslationCheckpoint } from './checkpoint';
export type { TranslateOptions, TranslationScore } from './translate';
export { scoreTranslations, sourceIds, targetIds, translate } from './translate';
export { hfSeq2SeqConfig, saveSeq2Seq } from './save';
export type { T5Config } from './t5';
export { buildT5, loadT5, parseT5Config, t5Seq2SeqConfig } from './t5';
export { relativePositionBiasOp, relativePositionBucket, rmsNormOp, T5_OPS, t5AttentionOp } from './t5-ops';
export type { HfTokenizer } from './hf-tokenizer';
export { HF_TOKENIZER_MAX_BYTES, loadHfTokenizer } from './hf-tokenizer';
export type { NmtExtras, NmtModel, NmtRun } from './nmt-run';
export { loadNmtModel, loadTokenizerFile, NMT_EXTRAS, readNmtRun, RUN_MODEL_DIR, saveNmtModel, writeNmtRun } from './nmt-run';
import type { PackageDescriptor } from '@adapters/core-graph';
import { definePackage } from '@adapters/core-graph';
import { NMT_OPS } from './ops';
/** This package for `createRuntime([...])`: the encoder-decoder ops (no adapter plugins of its own). */
export const nmtPackage: PackageDescriptor = definePackage({ name: '@adapters/adapter-nmt', ops: NMT_OPS });

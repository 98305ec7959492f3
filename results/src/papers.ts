// The papers' figures the table is read against. Only numbers we could check are quoted; the others are
// described. Papers used larger models, full training sets, longer sequences and learning-rate sweeps.

export interface PaperRow {
  readonly method: string;
  readonly source: string;
  readonly trainable: string;
  readonly sst2: string;
  readonly mrpc: string;
  readonly rte: string;
  readonly cola: string;
}

export const PAPER_ROWS: readonly PaperRow[] = [
  { method: 'Full fine-tuning', source: 'Houlsby et al. 2019, Table 1 (BERT-large, GLUE test)', trainable: '100', sst2: '94.9', mrpc: '89.3 (F1)', rte: '70.1', cola: '60.5' },
  { method: 'Houlsby adapters (size 8-256)', source: 'Houlsby et al. 2019, Table 1 (BERT-large, GLUE test)', trainable: '3.6', sst2: '94.0', mrpc: '89.5 (F1)', rte: '71.5', cola: '59.5' },
  { method: 'Full fine-tuning', source: 'Hu et al. 2021 (LoRA), Table 2 (RoBERTa-base, dev)', trainable: '100', sst2: '94.8', mrpc: '90.2 (acc)', rte: '78.7', cola: '63.6' },
  { method: 'LoRA (q, v; r 8)', source: 'Hu et al. 2021 (LoRA), Table 2 (RoBERTa-base, dev)', trainable: '0.24', sst2: '95.1', mrpc: '89.7 (acc)', rte: '86.6', cola: '63.4' },
  { method: 'Pfeiffer (seq_bn)', source: 'Pfeiffer et al. 2021 (AdapterFusion), §3-4 (BERT-base): ST-A on par with full fine-tuning', trainable: '≈0.9 (rf 16)', sst2: 'on par', mrpc: 'on par', rte: 'on par', cola: 'n/a' },
  { method: 'Prefix tuning', source: 'Li & Liang 2021 (GPT-2/BART, generation only: no GLUE numbers)', trainable: '0.1 stored', sst2: 'n/a', mrpc: 'n/a', rte: 'n/a', cola: 'n/a' },
  { method: 'MAM adapter', source: 'He et al. 2022 (Unified View), §4-5 (RoBERTa-base, SST-2/MNLI only; BART/mBART for generation): close to full fine-tuning on SST-2', trainable: 'prefix MLP not counted', sst2: 'close to full FT', mrpc: 'n/a', rte: 'n/a', cola: 'n/a' },
  { method: 'Compacter++', source: 'Karimi Mahabadi et al. 2021 (T5-base, GLUE): on par with adapters', trainable: '0.047', sst2: 'on par', mrpc: 'on par', rte: 'on par', cola: 'on par' },
];

/** Pfeiffer et al. 2021, Table 1 (BERT-base): fusion of ST-A adapters helps most on the small target tasks. */
export const PAPERS_FUSION: Readonly<Record<string, string>> = {
  rte: 'Pfeiffer et al. 2021, Table 1: Fusion w/ ST-A clearly above ST-A on RTE (one of the largest gains; small task)',
  mrpc: 'Pfeiffer et al. 2021, Table 1: Fusion w/ ST-A above ST-A on MRPC',
};

export const PAPERS_DROP =
  'Rücklé et al. 2021 (AdapterDrop), §3-4 (RoBERTa-base, 12 layers): dropping the adapters of the lowest few layers costs little accuracy and the cost grows with n; robust training gives one model usable at every n, slightly below the specialised ones.';

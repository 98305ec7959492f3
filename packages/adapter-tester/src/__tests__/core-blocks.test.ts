// core-graph's composition blocks through runBlockSuite (children: the toy adapter, random init).
import { Average, BatchSplit, createRuntime, Parallel, Stack } from '@adapters/core-graph';
import { runBlockSuite } from '../index';

const blockOf = (type: string) => createRuntime().blocks.get(type);

runBlockSuite({
  block: blockOf('Stack'),
  numRuns: 2,
  seed: 1,
  cases: [
    { name: 'two adapters', children: 2, tree: ([a, b]) => Stack(a!, b!) },
    { name: 'adapter then Average', children: 3, tree: ([a, b, c]) => Stack(a!, Average(undefined, b!, c!)) },
  ],
});

runBlockSuite({
  block: blockOf('Parallel'),
  numRuns: 2,
  seed: 2,
  // Parallel doubles the batch: the training check labels every output row.
  cases: [
    { name: 'two branches', children: 2, tree: ([a, b]) => Parallel(a!, b!), batch: 2, outputBatch: 4 },
    { name: 'Stack inside a branch', children: 3, tree: ([a, b, c]) => Parallel(a!, Stack(b!, c!)), batch: 1, outputBatch: 2 },
  ],
  invalid: [{ name: 'Parallel nested in Average', children: 3, tree: ([a, b, c]) => Average(undefined, a!, Parallel(b!, c!)), message: /Parallel cannot be nested in Average/ }],
});

runBlockSuite({
  block: blockOf('BatchSplit'),
  numRuns: 2,
  seed: 3,
  cases: [
    { name: 'sizes 1, 2', children: 2, tree: ([a, b]) => BatchSplit([1, 2], a!, b!), batch: 3 },
    { name: 'sizes 2, 2 with a Stack', children: 3, tree: ([a, b, c]) => BatchSplit([2, 2], a!, Stack(b!, c!)), batch: 4 },
  ],
  invalid: [
    { name: 'one size for two children', children: 2, tree: ([a, b]) => BatchSplit([2], a!, b!), message: /one positive integer size per child/ },
    { name: 'size 0', children: 2, tree: ([a, b]) => BatchSplit([0, 2], a!, b!), message: /one positive integer size per child/ },
  ],
});

runBlockSuite({
  block: blockOf('Average'),
  numRuns: 2,
  seed: 4,
  cases: [
    { name: 'equal weights', children: 2, tree: ([a, b]) => Average(undefined, a!, b!) },
    { name: 'weights 0.25, 0.75', children: 2, tree: ([a, b]) => Average([0.25, 0.75], a!, b!) },
  ],
  invalid: [{ name: 'three weights for two children', children: 2, tree: ([a, b]) => Average([1, 2, 3], a!, b!), message: /one numeric weight per child/ }],
});

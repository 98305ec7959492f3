// The results package's tests need no tensor backend (the runner is exercised with a fake executor).
module.exports = { ...require('../jest.preset.js'), displayName: 'results', setupFilesAfterEnv: [] };

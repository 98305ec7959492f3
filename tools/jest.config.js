// The tools need no tensor backend: keep the preset's transform and mapping, drop its tfjs setup file.
module.exports = { ...require('../jest.preset.js'), displayName: 'tools', setupFilesAfterEnv: [] };

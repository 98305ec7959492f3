module.exports = { ...require('../../jest.preset.js'), displayName: 'adapter-udapter' };

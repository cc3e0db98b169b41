module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'zcp',
  rootDir: __dirname,
};

module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'fastpath',
  rootDir: __dirname,
};

module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'sfu',
  rootDir: __dirname,
};

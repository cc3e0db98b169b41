module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'state',
  rootDir: __dirname,
};

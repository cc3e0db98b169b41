module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'workspace-check',
  rootDir: __dirname,
};

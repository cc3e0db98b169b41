module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'meeting-room',
  rootDir: __dirname,
};

module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'redis-kit',
  rootDir: __dirname,
};

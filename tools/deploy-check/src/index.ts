export { APPS, PORT_KEYS, type AppFacts, type PortRole } from './apps';
export { checkCompose, environmentOf, lintComposeFile, parsePort, type ComposeDoc, type PublishedPort } from './compose';
export { checkDockerfile, execForm, parseDockerfile, type Dockerfile, type Instruction, type Stage } from './dockerfile';
export { bundleEntry, missingRuntimeDependencies, packageNameOf, type BundleResult } from './bundle';

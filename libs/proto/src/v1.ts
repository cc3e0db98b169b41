// Every message, enum and service of package meetedge.v1, generated from
// libs/proto/proto/meetedge/v1/*.proto. Import it as a namespace
// (`import { v1 } from '@meetedge/proto'`) so wire types read as wire types
// (`v1.Register`, `v1.Quality.HD`) next to the domain types they map to.
export * from './gen/meetedge/v1/common';
export * from './gen/meetedge/v1/module_registry';
export * from './gen/meetedge/v1/zone_controller';
export * from './gen/meetedge/v1/cascade';

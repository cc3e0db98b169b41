export { freeUnits, placementCandidates, type PlacementCandidate, type PlacementModule, type PlacementRequest } from './placement';

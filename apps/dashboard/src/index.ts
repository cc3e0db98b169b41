export { buildApp, type DashboardDeps } from './app';
export { dashboardConfigSpec, loadDashboardConfig, type DashboardConfig } from './config';

export { buildApp, type DashboardDeps, type DashboardService } from './app';
export { dashboardConfigSpec, loadDashboardConfig, type DashboardConfig } from './config';

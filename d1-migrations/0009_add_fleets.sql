CREATE TABLE `fleets` (
	`model` text PRIMARY KEY NOT NULL,
	`min_ready` integer NOT NULL,
	`max_nodes` integer NOT NULL,
	`placements` text NOT NULL,
	`fallback_on_demand_after` integer,
	`launch_seq` integer DEFAULT 0 NOT NULL,
	`typical_ready_ms` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer
);
--> statement-breakpoint
ALTER TABLE `node_launches` ADD `fleet_model` text;--> statement-breakpoint
ALTER TABLE `node_launches` ADD `fleet_placement` integer;--> statement-breakpoint
CREATE INDEX `node_launches_fleet_idx` ON `node_launches` (`fleet_model`);
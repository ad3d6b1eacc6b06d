CREATE TABLE `node_launches` (
	`cluster_name` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`spec` text NOT NULL,
	`register_token_hash` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `node_launches_node_id_unique` ON `node_launches` (`node_id`);

CREATE TABLE `node_ops_dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`op` text,
	`cluster_name` text,
	`node_id` text,
	`reason` text NOT NULL,
	`error` text,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`claimed_at` integer,
	`replayed_at` integer,
	`replays` integer DEFAULT 0 NOT NULL,
	`replay_error` text
);
--> statement-breakpoint
CREATE INDEX `node_ops_dead_letters_status_idx` ON `node_ops_dead_letters` (`status`,`first_seen_at`);--> statement-breakpoint
CREATE INDEX `audit_log_action_idx` ON `audit_log` (`action`,`id`);
-- Hourly usage rollups kept exactly once, and node token-counter samples for reconciliation.
-- `rolled_up` marks ledger rows already added to usage_hourly: the queue consumer inserts events with
-- rolled_up = 0 (a redelivered event is not inserted at all), adds exactly the rolled_up = 0 rows to the
-- rollup and flips them to 1, all in one D1 batch (one transaction). Rows that exist before this migration
-- start at 0, so the first consumer batch after deploy backfills them.
ALTER TABLE `usage_events` ADD `rolled_up` integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
-- Partial index: holds only the rows of the batch being written, so finding them never scans the ledger.
CREATE INDEX `usage_events_pending_rollup_idx` ON `usage_events` (`rolled_up`) WHERE `rolled_up` = 0;
--> statement-breakpoint
CREATE INDEX `usage_events_node_time_idx` ON `usage_events` (`node_id`,`created_at`);
--> statement-breakpoint
CREATE TABLE `usage_hourly` (
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`hour_start` integer NOT NULL,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`requests` integer DEFAULT 0 NOT NULL,
	`errors` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`tenant_id`, `key_id`, `model`, `hour_start`)
);
--> statement-breakpoint
CREATE INDEX `usage_hourly_tenant_hour_idx` ON `usage_hourly` (`tenant_id`,`hour_start`);
--> statement-breakpoint
CREATE INDEX `usage_hourly_hour_idx` ON `usage_hourly` (`hour_start`);
--> statement-breakpoint
CREATE TABLE `node_counter_samples` (
	`node_id` text NOT NULL,
	`at` integer NOT NULL,
	`prompt_tokens_total` integer NOT NULL,
	`generation_tokens_total` integer NOT NULL,
	PRIMARY KEY(`node_id`, `at`)
);

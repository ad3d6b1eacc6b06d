CREATE TABLE `usage_dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`request_id` text,
	`tenant_id` text,
	`reason` text NOT NULL,
	`error` text,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`first_seen_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`replayed_at` integer,
	`replay_error` text
);
--> statement-breakpoint
CREATE INDEX `usage_dead_letters_status_idx` ON `usage_dead_letters` (`status`,`first_seen_at`);--> statement-breakpoint
ALTER TABLE `meter_pushes` ADD `first_attempt_at` integer;--> statement-breakpoint
CREATE INDEX `audit_log_target_idx` ON `audit_log` (`target`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_actor_idx` ON `audit_log` (`actor`,`id`);--> statement-breakpoint
CREATE INDEX `webhook_events_unknown_customer_idx` ON `webhook_events` (`created`) WHERE "webhook_events"."outcome" = 'unknown_customer';
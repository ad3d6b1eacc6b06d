-- Stripe billing: received webhook events (idempotency), the last applied event per tenant and Stripe object
-- (out-of-order protection), paid invoice periods, and the hourly usage pushed to Stripe Billing Meters.
CREATE TABLE `webhook_events` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`created` integer NOT NULL,
	`processed_at` integer NOT NULL,
	`tenant_id` text,
	`outcome` text NOT NULL,
	`payload` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_events_tenant_idx` ON `webhook_events` (`tenant_id`,`created`);--> statement-breakpoint
CREATE TABLE `billing_objects` (
	`tenant_id` text NOT NULL,
	`object_key` text NOT NULL,
	`state` text NOT NULL,
	`plan` text,
	`event_id` text NOT NULL,
	`event_created` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `object_key`)
);
--> statement-breakpoint
CREATE TABLE `billed_periods` (
	`invoice_id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`period_start` integer NOT NULL,
	`period_end` integer NOT NULL,
	`amount_paid` integer NOT NULL,
	`currency` text NOT NULL,
	`event_id` text NOT NULL,
	`billed_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `billed_periods_tenant_idx` ON `billed_periods` (`tenant_id`,`period_start`);--> statement-breakpoint
CREATE TABLE `meter_pushes` (
	`identifier` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`event_name` text NOT NULL,
	`hour_start` integer NOT NULL,
	`seq` integer NOT NULL,
	`stripe_customer_id` text NOT NULL,
	`value` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_at` integer NOT NULL,
	`last_attempt_at` integer,
	`sent_at` integer,
	`invoice_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `meter_pushes_hour_seq_unique` ON `meter_pushes` (`tenant_id`,`event_name`,`hour_start`,`seq`);--> statement-breakpoint
CREATE INDEX `meter_pushes_status_idx` ON `meter_pushes` (`status`,`hour_start`);

-- Billing in money (issue 16): the price book, and the exact cost of each usage_hourly row in pico-dollars
-- (tokens × micro-dollars per million tokens), summed at the price in force at each request's start. Written
-- by drizzle-kit from workers/src/db/schema.ts as 0008 and renumbered 0010 (the number reserved for this change),
-- with meta/0010_snapshot.json and its journal entry (idx 8): renumber the idx after the 0008/0009 migrations merge.
-- Column adds and a new table only: the previous code keeps working against this schema.
CREATE TABLE `model_prices` (
	`model` text NOT NULL,
	`effective_from` integer NOT NULL,
	`input_micro_usd_per_mtok` integer NOT NULL,
	`output_micro_usd_per_mtok` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`model`, `effective_from`)
);
--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `prompt_cost_pico_usd` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `completion_cost_pico_usd` integer DEFAULT 0 NOT NULL;

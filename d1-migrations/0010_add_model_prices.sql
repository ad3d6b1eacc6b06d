-- Billing in money (issue 16): the price book, and the exact cost of each usage_hourly row in pico-dollars
-- (tokens × micro-dollars per million tokens), summed at the price in force at each request's start. Written
-- by hand to match workers/src/db/schema.ts (number 0010 reserved for this change; regenerate meta/ at merge).
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

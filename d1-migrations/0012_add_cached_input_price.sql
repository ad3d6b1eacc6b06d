ALTER TABLE `model_prices` ADD `cached_input_micro_usd_per_mtok` integer;--> statement-breakpoint
ALTER TABLE `usage_events` ADD `cached_prompt_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `cached_prompt_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_hourly` ADD `cached_prompt_cost_pico_usd` integer DEFAULT 0 NOT NULL;
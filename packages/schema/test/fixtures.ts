import { readFileSync } from 'node:fs';
import { applyPatch, type Operation } from 'fast-json-patch';
import type { MasterPrompt } from '@swan/schema';

/**
 * The project's sample prompts (`../shared/fixtures/master-prompts.json`, committed here as
 * `fixtures/master-prompts.json` so a clone runs its tests anywhere; validator.test.ts checks the
 * copy against the original where that folder exists): a valid prompt and invalid variants as
 * JSON patches.
 */
interface FixtureFile {
  valid: MasterPrompt;
  invalid: { name: string; patch?: Operation[]; replace?: unknown; code: string; expect?: { instancePath: string; keyword: string }[] }[];
}

export const FIXTURE_FILE = new URL('./fixtures/master-prompts.json', import.meta.url);
export const fixtures = JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as FixtureFile;

/** A fresh deep copy of the valid prompt. */
export const validPrompt = (): MasterPrompt => structuredClone(fixtures.valid);

/** Each invalid case with its document built (patch applied to a copy of `valid`). */
export const invalidCases = fixtures.invalid.map((c) => ({
  ...c,
  document: c.replace !== undefined ? c.replace : applyPatch(validPrompt(), c.patch ?? [], true, false).newDocument,
}));

/** A master prompt using every optional section, valid against the schema. */
export function fullPrompt(): MasterPrompt {
  const doc = validPrompt();
  doc.meta.client_alias = 'Nebula Swan';
  doc.client_profile.training_goals = {
    primary_goal: 'Strength', secondary_goals: ['Mobility', 'Endurance'], target_weight_lbs: 175, timeline_weeks: 16,
    motivation: 'Keep up with the grandchildren', success_metrics: ['Deadlift 1.5x body weight', '5 km under 30 minutes'],
  };
  doc.client_profile.training_history = {
    years_training_experience: 4, training_start_date: '2021-03-01', activity_level: 'Moderately active',
    previous_programs: ['Couch to 5K', 'Starting Strength'],
    injury_history: [{ body_part: 'left knee', injury_type: 'ACL reconstruction', year: 2019, status: 'Resolved', severity: 'Severe', restrictions: ['no deep pistol squats'], notes: 'Cleared by physio' }],
  };
  doc.client_profile.movement_screen = {
    assessment_date: '2025-11-04', deep_squat: 2, hurdle_step: 2, inline_lunge: 3, shoulder_mobility: 1,
    active_straight_leg_raise: 2, trunk_stability_pushup: 3, rotary_stability: 2, total_score: 15,
    compensations: ['knee valgus'], notes: 'Tight hip flexors',
  };
  doc.client_profile.medications = [{ name: 'Metoprolol', dosage: '25 mg', frequency: 'daily', purpose: 'blood pressure', affects_training: true, notes: 'Use RPE, not heart rate' }];
  doc.client_profile.supplements = [{ name: 'Creatine monohydrate', dosage: '5 g', frequency: 'daily', timing: 'Post-workout' }];
  doc.client_profile.allergies = [{ allergen: 'Peanuts', severity: 'Anaphylactic', notes: 'Carries an epinephrine auto-injector' }];
  doc.client_profile.wearable_integration = { active: true, device: 'Garmin', data_shared: ['heart_rate', 'sleep'], last_sync: '2025-11-05T06:00:00Z' };
  doc.client_profile.session_preferences = {
    preferred_days: ['Monday', 'Thursday'], preferred_time_of_day: 'Early morning', session_length_minutes: 60,
    location: 'In studio', coaching_style: 'Technical', notes: 'Prefers written programs',
  };
  return doc;
}

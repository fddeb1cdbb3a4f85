-- One onboarding run at a time per organization: the run that claims an organization in
-- status 'onboarding' writes its id and how long the claim lasts; another run is refused
-- until the claim is released (the run ended) or has lapsed (the run was killed).
ALTER TABLE organizations
    ADD COLUMN onboarding_claim       text,
    ADD COLUMN onboarding_claim_until timestamptz;

-- Rows written must point only at rows their writer may see: a record names
-- a key visible to its user (their own, or any for an admin), and a batch
-- item joins the user's own batch to the user's own record. Without these
-- checks, a transaction acting for one user could link another user's key
-- or record into its history by id.

ALTER POLICY verification_records_owner_or_admin ON verification_records
    WITH CHECK (
        user_id = (SELECT sigil_current_user_id())
        AND EXISTS (SELECT 1 FROM public_keys k WHERE k.id = public_key_id)
    );

ALTER POLICY batch_verification_items_via_batch ON batch_verification_items
    WITH CHECK (
        EXISTS (
            SELECT 1 FROM batch_verifications b
            WHERE b.id = batch_id AND b.user_id = (SELECT sigil_current_user_id())
        )
        AND EXISTS (
            SELECT 1 FROM verification_records r
            WHERE r.id = verification_record_id AND r.user_id = (SELECT sigil_current_user_id())
        )
    );

"""XEP-0407 MIX-MISC: message retraction, the channel's avatar and vCard,
nick registration, invitations."""

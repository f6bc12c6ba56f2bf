"""Who is calling: API key to tenant, and what that tenant may use."""

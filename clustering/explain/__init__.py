"""Explanation: profiles, feature tests, surrogate rules and business labels of segments."""

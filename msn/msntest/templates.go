package msntest

// policiesXML is the GCF 0 payload sent before USR … S on MSNP13+.
const policiesXML = "<Policies>\r\n" +
	"\t<Policy type=\"SHIELDS\" checksum=\"D9705A71BA841CB38955822E048970C3\"><config> <shield><cli maj=\"7\" min=\"0\" minbld=\"0\" maxbld=\"9999\" deny=\" \" /></shield> <block></block></config></Policy>\r\n" +
	"\t<Policy type=\"ABCH\" checksum=\"03DC55910A9CB79133F1576221A80346\"><policy><set id=\"push\" service=\"ABCH\" priority=\"200\">      <r id=\"pushstorage\" threshold=\"180000\" />    </set><set id=\"delaysup\" service=\"ABCH\" priority=\"150\">  <r id=\"whatsnew\" threshold=\"1800000\" />  <r id=\"whatsnew_storage_ABCH_delay\" timer=\"1800000\" />  <r id=\"whatsnewt_link\" threshold=\"900000\" trigger=\"QueryActivities\" /></set>  <c id=\"PROFILE_Rampup\">100</c></policy></Policy>\r\n" +
	"\t<Policy type=\"ERRORRESPONSETABLE\" checksum=\"6127EEDCE860F45C1692896F5248AF6F\"><Policy> <Feature type=\"3\" name=\"P2P\">  <Entry hr=\"0x81000398\" action=\"3\"></Entry>  <Entry hr=\"0x82000020\" action=\"3\"></Entry> </Feature> <Feature type=\"4\">  <Entry hr=\"0x81000440\"></Entry> </Feature></Policy></Policy>\r\n" +
	"\t<Policy type=\"P2P\" checksum=\"815D4F1FF8E39A85F1F97C4B16C45177\"><ObjStr SndDly=\"1\" /></Policy>\r\n" +
	"</Policies>"

// shieldsXML is the answer to a client's GCF t Shields.xml.
const shieldsXML = "<?xml version=\"1.0\" encoding=\"utf-8\" ?><config><shield><cli maj=\"7\" min=\"0\" minbld=\"0\" maxbld=\"9999\" deny=\" \" /></shield><block></block></config>"

const abServiceHeader = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
	<soap:Header>
		<ServiceHeader xmlns="http://www.msn.com/webservices/AddressBook">
			<Version>15.01.1408.0000</Version>
			<CacheKey>12r1:%s</CacheKey>
			<CacheKeyChanged>true</CacheKeyChanged>
			<PreferredHostName>%s</PreferredHostName>
			<SessionId>%s</SessionId>
		</ServiceHeader>
	</soap:Header>
	<soap:Body>
`

const abFooter = `
	</soap:Body>
</soap:Envelope>`

const rstHeader = `<?xml version="1.0" encoding="utf-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/">
	<S:Header>
		<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:PUID>%s</psf:PUID>
			<psf:configVersion>16.000.26889.00</psf:configVersion>
			<psf:uiVersion>3.100.2179.0</psf:uiVersion>
			<psf:mobileConfigVersion>16.000.26208.0</psf:mobileConfigVersion>
			<psf:authstate>0x48803</psf:authstate>
			<psf:reqstatus>0x0</psf:reqstatus>
			<psf:serverInfo Path="Live1" RollingUpgradeState="ExclusiveNew" LocVersion="0" ServerTime="%s">XYZPPLOGN1A23 2017.10.03.19.00.04</psf:serverInfo>
			<psf:cookies/>
			<psf:credProperties>
				<psf:credProperty Name="MainBrandID">MSFT</psf:credProperty>
				<psf:credProperty Name="BrandIDList"></psf:credProperty>
				<psf:credProperty Name="IsWinLiveUser">true</psf:credProperty>
				<psf:credProperty Name="CID">%s</psf:credProperty>
				<psf:credProperty Name="AuthMembername">%s</psf:credProperty>
				<psf:credProperty Name="Country">US</psf:credProperty>
				<psf:credProperty Name="Language">1033</psf:credProperty>
				<psf:credProperty Name="IP">127.0.0.1</psf:credProperty>
			</psf:credProperties>
			<psf:response/>
		</psf:pp>
	</S:Header>
	<S:Body>
		<wst:RequestSecurityTokenResponseCollection xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<wst:RequestSecurityTokenResponse>
				<wst:TokenType>urn:passport:legacy</wst:TokenType>
				<wsp:AppliesTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing">
					<wsa:EndpointReference>
						<wsa:Address>http://Passport.NET/tb</wsa:Address>
					</wsa:EndpointReference>
				</wsp:AppliesTo>
				<wst:LifeTime>
					<wsu:Created>%s</wsu:Created>
					<wsu:Expires>%s</wsu:Expires>
				</wst:LifeTime>
				<wst:RequestedSecurityToken>
					<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" Id="BinaryDAToken0" Type="http://www.w3.org/2001/04/xmlenc#Element">
						<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#tripledes-cbc"></EncryptionMethod>
						<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
							<ds:KeyName>http://Passport.NET/STS</ds:KeyName>
						</ds:KeyInfo>
						<CipherData>
							<CipherValue>Cap26AQZrSyMm2SwwTyJKyqLR9/S+vQWQsaBc5Mv7PwtQDMzup/udOOMMvSu99R284pmiD3IepBXrEMLK5rLrXAf2A6vrP6vYuGA45GCqQdoxusHZcjt9P2B8WyCTVT2cM8jtGqGIfRlU/4WzOLxNrDJwDfOsmilduGAGZfvRPW7/jyXXrnGK7/PWkymX4YDD+ygJfMrPAfvAprvw/HVE6tutKVc9cViTVYy8oHjosQlb8MKn3vKDW1O2ZWQUc47JPl7DkjQaanfNBGe6CL7K1nr6Z/jy7Ay7MjV+KQehmvphSEmCzLrpB4WWn2PdpdTrOcDj+aJfWHeGL4sIPwEKgrKnTQg9QD8CCsm5wew9P/br39OuIfsC6/PFBEH</CipherValue>
						</CipherData>
					</EncryptedData>
				</wst:RequestedSecurityToken>
				<wst:RequestedTokenReference>
					<wsse:KeyIdentifier ValueType="urn:passport"></wsse:KeyIdentifier>
					<wsse:Reference URI="#BinaryDAToken0"></wsse:Reference>
				</wst:RequestedTokenReference>
				<wst:RequestedProofToken>
					<wst:BinarySecret>tgoPVK67sU36fQKlGLMgWgTXp7oiaQgE</wst:BinarySecret>
				</wst:RequestedProofToken>
			</wst:RequestSecurityTokenResponse>`

const rstItem = `			<wst:RequestSecurityTokenResponse>
				<wst:TokenType>urn:passport:compact</wst:TokenType>
				<wsp:AppliesTo xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing">
					<wsa:EndpointReference>
						<wsa:Address>%s</wsa:Address>
				</wsa:EndpointReference>
				</wsp:AppliesTo>
				<wst:LifeTime>
					<wsu:Created>%s</wsu:Created>
					<wsu:Expires>%s</wsu:Expires>
				</wst:LifeTime>
				<wst:RequestedSecurityToken>
					<wsse:BinarySecurityToken Id="Compact%d">%s</wsse:BinarySecurityToken>
				</wst:RequestedSecurityToken>
				<wst:RequestedTokenReference>
					<wsse:KeyIdentifier ValueType="urn:passport:compact"></wsse:KeyIdentifier>
					<wsse:Reference URI="#Compact%d"></wsse:Reference>
				</wst:RequestedTokenReference>%s</wst:RequestSecurityTokenResponse>`

const rstFooter = `
		</wst:RequestSecurityTokenResponseCollection>
	</S:Body>
</S:Envelope>`

const rstFault = `<?xml version="1.0" encoding="utf-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
		<S:Header>
			<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:authstate>0x80048800</psf:authstate>
			<psf:reqstatus>0x80048823</psf:reqstatus>
			<psf:serverInfo Path="Live1" RollingUpgradeState="ExclusiveNew" LocVersion="0" ServerTime="%s">XYZPPLOGN1A23 2017.09.28.12.44.07</psf:serverInfo>
			<psf:cookies/>
			<psf:response/>
		</psf:pp>
	</S:Header>
	<S:Body>
		<S:Fault>
			<faultcode>wsse:FailedAuthentication</faultcode>
			<faultstring>Authentication Failure</faultstring>
		</S:Fault>
	</S:Body>
</S:Envelope>`

const rst2Fault = `<?xml version="1.0" encoding="utf-8" ?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
	<S:Header>
		<psf:pp xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">
			<psf:serverVersion>1</psf:serverVersion>
			<psf:authstate>0x80048800</psf:authstate>
			<psf:reqstatus>0x80048821</psf:reqstatus>
			<psf:serverInfo Path="Live1" RollingUpgradeState="ExclusiveNew" LocVersion="0" ServerTime="%s">XYZPPLOGN1A23 2017.09.28.12.44.07</psf:serverInfo>
			<psf:cookies/>
			<psf:response/>
		</psf:pp>
	</S:Header>
	<S:Body>
		<S:Fault>
			<S:Code>
				<S:Value>S:Sender</S:Value>
				<S:Subcode>
					<S:Value>wst:FailedAuthentication</S:Value>
				</S:Subcode>
			</S:Code>
			<S:Reason>
				<S:Text xml:lang="en-US">Authentication Failure</S:Text>
			</S:Reason>
		</S:Fault>
	</S:Body>
</S:Envelope>`

const abFault = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
	<soap:Body>
		<soap:Fault>
			<faultcode>soap:Client</faultcode>
			<faultstring>%s</faultstring>
			<faultactor>http://www.msn.com/webservices/AddressBook/%s</faultactor>
			<detail>
				<errorcode xmlns="http://www.msn.com/webservices/AddressBook">%s</errorcode>
				<errorstring xmlns="http://www.msn.com/webservices/AddressBook">%s</errorstring>
				<machineName xmlns="http://www.msn.com/webservices/AddressBook">msntest</machineName>
			</detail>
		</soap:Fault>
	</soap:Body>
</soap:Envelope>`

const rsiEnvelope = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
	<soap:Body>
		%s
	</soap:Body>
</soap:Envelope>`

const oimFault = `<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
	<soap:Body>
		<soap:Fault>
			<faultcode xmlns:q0="http://messenger.msn.com/ws/2004/09/oim/">q0:%s</faultcode>
			<faultstring>Exception of type 'System.Web.Services.Protocols.SoapException' was thrown.</faultstring>
			<faultactor>https://ows.messenger.msn.com/OimWS/oim.asmx</faultactor>
			<detail>%s</detail>
		</soap:Fault>
	</soap:Body>
</soap:Envelope>`
